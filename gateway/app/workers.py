"""`python -m gateway --workers N`: N processes serving one listening socket, for more than one core.

The parent binds the socket, forks the workers and only supervises: SIGTERM/SIGINT are passed on, and
when one worker exits the others are stopped. A worker whose parent dies (even by SIGKILL) gets SIGTERM
from the kernel (Linux's parent-death signal; a watchdog thread elsewhere) and shuts down, so the port is
free for the next start. Each worker builds its own gateway, so the workers share
state only through the store: Redis is required (the embedded store belongs to one process). Each worker
takes its own outbox consumer name (`<name>/<n>`), stable across restarts; with `metrics` on, they count
into one folder (prometheus-client's multiprocess mode) removed at exit. It must not start an event
loop or a thread before forking.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from types import FrameType

from gateway.config.model import Config
from gateway.delivery.outboxes import consumer_name
from gateway.errors import ConfigError
from gateway.log import get_logger
from gateway.observe.metrics import SHARED_DIR

log = get_logger("workers")


def check(config: Config, workers: int) -> None:
    if workers < 1:
        raise ConfigError("--workers", f"expected at least 1, got {workers}")
    if workers > 1 and config.storage.type != "redis":
        raise ConfigError(
            "--workers",
            f'{workers} workers need "storage.type": "redis" (the embedded store is one process\'s)',
        )
    if workers > 1 and config.metrics.enabled and config.metrics.listen_port:
        raise ConfigError(  # every worker would bind it: the second could not start
            "--workers",
            f'{workers} workers cannot share "metrics.listen_port": scrape /metrics on the listener',
        )


def bind(config: Config) -> socket.socket:
    host = config.listen_address or "0.0.0.0"
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, config.listen_port))
    sock.set_inheritable(True)
    return sock


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_INTERVAL = 1.0  # seconds between parent checks where the kernel cannot signal us


def die_with_parent(parent: int) -> None:
    """In a worker, just forked: be sent SIGTERM when `parent` dies. Checked once more after asking,
    since the parent may have died between the fork and the request."""
    asked = False
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            asked = libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    if not asked:
        threading.Thread(target=_watch, args=(parent,), name="parent-watchdog", daemon=True).start()
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        threading.Event().wait(WATCHDOG_INTERVAL)
    os.kill(os.getpid(), signal.SIGTERM)


def worker_config(config: Config, index: int) -> Config:
    events = dataclasses.replace(config.events, outbox_consumer=f"{consumer_name(config)}/{index}")
    return dataclasses.replace(config, events=events)


def run(config: Config, workers: int, serve: Callable[[Config, socket.socket], int]) -> int:
    """Fork `workers` processes running `serve(config, socket)`; the exit status is the worst of theirs."""
    sock = bind(config)
    shared = None
    if config.metrics.enabled:  # prometheus-client's multiprocess mode: every worker writes its counts here
        shared = os.environ[SHARED_DIR] = tempfile.mkdtemp(prefix="gateway-metrics-")
    children: dict[int, int] = {}
    parent = os.getpid()
    for index in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                die_with_parent(parent)
                code = serve(worker_config(config, index), sock)
            finally:
                os._exit(code)
        children[pid] = index
    sock.close()
    stopping = False

    def stop(signum: int, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    signal.signal(signal.SIGTERM, stop)
    # SIGINT is passed on as SIGTERM: a terminal already sends SIGINT to every worker, and a second
    # SIGINT would make uvicorn skip its graceful shutdown.
    signal.signal(signal.SIGINT, lambda _s, _f: stop(signal.SIGTERM))
    worst = 0
    while children:
        pid, status = os.wait()
        if pid not in children:
            continue
        index = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        worst = max(worst, abs(code))
        if not stopping:  # a worker died on its own: the rest stop too, so the failure is seen
            log.error("worker %d (pid %d) exited with %d; stopping the others", index, pid, code)
            stop(signal.SIGTERM)
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)
    return worst
