"""Fixtures shared by the whole suite: a real redis-server, and `store` on every backend.

- `redis_server` (session): a private `redis-server` on a free 127.0.0.1 port, no persistence; has
  `.host`, `.port` and `.url`. It FAILS, never skips, when redis-server is missing (tests/setup.sh).
- `redis_flush`: the same server, emptied with FLUSHALL before the test. Take it (not `redis_server`)
  in any test that writes to Redis.
- `store`: an open Store, once per backend ("embedded" in tmp_path, "redis" on `redis_flush`), closed
  after the test. A store-backed test takes `store` and so runs against both.

A test that runs past HANG_LIMIT seconds (setup, call and teardown together) fails with the stacks of
its asyncio tasks printed, so a hang names where it waits instead of stalling the whole run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest

from gateway.config.model import StorageConfig
from gateway.store.base import Store
from gateway.store.registry import open_store

START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
# The slowest test (the install test) takes about 30 s; nothing legitimate comes near this.
HANG_LIMIT = float(os.environ.get("TEST_HANG_LIMIT", "240"))
# After the first expiry, teardown gets this long before the run is ended outright.
HANG_GRACE = 60.0


_hang_failed = [False]  # whether the guard already failed the running test (then teardown hangs too)


def _on_hang(signum: int, frame: FrameType | None) -> None:
    """SIGALRM: print where every asyncio task waits (a thread dump shows only the loop's select), then
    fail the test; if it is still stuck HANG_GRACE s later (its teardown hangs too), end the run."""
    loop = asyncio._get_running_loop()
    tasks = asyncio.all_tasks(loop) if loop is not None else set()
    print(f"\n--- test ran past its limit: {len(tasks)} asyncio tasks ---", file=sys.stderr)
    for task in tasks:
        task.print_stack(file=sys.stderr)
    if _hang_failed[0]:
        print("--- still stuck after the grace period: ending the run ---", file=sys.stderr, flush=True)
        os._exit(3)
    _hang_failed[0] = True
    signal.setitimer(signal.ITIMER_REAL, HANG_GRACE)
    pytest.fail(f"test ran past {HANG_LIMIT:g} s (its asyncio tasks are printed above)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, None, None]:
    """Arm the hang guard around one test's setup, call and teardown."""
    _hang_failed[0] = False
    previous = signal.signal(signal.SIGALRM, _on_hang)
    signal.setitimer(signal.ITIMER_REAL, HANG_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True, slots=True)
class RedisServer:
    host: str
    port: int
    pid: int = 0  # the server process, for tests that freeze it (SIGSTOP) as a stalled Redis would

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_command(server: RedisServer, command: bytes) -> bytes:
    """One inline command over a raw socket (no client library, no event loop): its first reply line."""
    with socket.create_connection((server.host, server.port), timeout=2) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(256).split(b"\r\n", 1)[0]


def _answers(server: RedisServer) -> bool:
    try:
        return redis_command(server, b"PING") == b"+PONG"
    except OSError:
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not on PATH; the suite needs one (tests/setup.sh)", pytrace=False)
    folder: Path = tmp_path_factory.mktemp("redis")
    # A free port can be taken between our probe and redis binding it: try a few.
    for _ in range(3):
        server = RedisServer("127.0.0.1", free_port())
        args = ["--bind", server.host, "--port", str(server.port), "--save", "", "--appendonly", "no"]
        args += ["--daemonize", "no", "--dir", str(folder), "--logfile", str(folder / f"{server.port}.log")]
        proc = subprocess.Popen([binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while proc.poll() is None and time.monotonic() < deadline and not _answers(server):
            time.sleep(0.01)  # bounded poll until the server answers
        if proc.poll() is None and _answers(server):
            server = RedisServer(server.host, server.port, proc.pid)
            break
        _stop(proc)
    else:
        log = folder / f"{server.port}.log"
        pytest.fail(f"redis-server did not start: {log.read_text() if log.exists() else 'no log'}")
    try:
        yield server
    finally:
        _stop(proc)


@pytest.fixture
def redis_flush(redis_server: RedisServer) -> RedisServer:
    reply = redis_command(redis_server, b"FLUSHALL")
    assert reply == b"+OK", reply
    return redis_server


@pytest.fixture(params=["embedded", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_flush")
        cfg = StorageConfig(type="redis", host=server.host, port=server.port)
    else:
        cfg = StorageConfig(type=request.param, path=str(tmp_path / "store"))
    opened = open_store(cfg)
    try:
        yield opened
    finally:
        await opened.close()
