"""Processes the benchmark starts: each in its own session (its process group is its PID), stopped by
that PID (SIGTERM, then SIGKILL for survivors) on exit, error or signal; nothing else is signalled.
Also the measurements taken from /proc: a group's CPU ticks and its largest resident set."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import IO

CLK = os.sysconf("SC_CLK_TCK")


class Procs:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.started: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []

    def start(
        self, name: str, argv: list[str], cwd: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = open(self.run_dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by stop_all
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.started.append((name, proc, log))
        return proc

    def stop_all(self) -> None:
        for _, proc, _ in reversed(self.started):
            _signal(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 8
        for _, proc, _ in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _, proc, log in self.started:
            _signal(proc.pid, signal.SIGKILL)  # whatever of its group is left
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
            log.close()
        self.started.clear()

    def tail(self, name: str, lines: int = 20) -> str:
        try:
            return b"\n".join((self.run_dir / f"{name}.log").read_bytes().splitlines()[-lines:]).decode(
                errors="replace"
            )
        except OSError:
            return ""


def _signal(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], name: str, procs: Procs, timeout: float = 30.0
) -> None:
    """Poll `url` until it answers 200 (bounded); the process dying or the deadline is an error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.tail(name)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = resp.status
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{name} not ready at {url} after {timeout}s: {last}\n{procs.tail(name)}")


def wait_port(
    port: int, proc: subprocess.Popen[bytes], name: str, procs: Procs, timeout: float = 30.0
) -> None:
    """Poll until something accepts connections on `port` (bounded)."""
    deadline = time.monotonic() + timeout
    while not port_in_use(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not listen on {port}:\n{procs.tail(name)}")
        time.sleep(0.05)


def _group_stats(pgid: int) -> list[tuple[int, int]]:
    """(CPU ticks, peak RSS in KiB) of each live process in the group."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            rest = stat[stat.rfind(")") + 2 :].split()
            if int(rest[2]) != pgid:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
        except (OSError, ValueError):
            continue
        hwm = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        out.append((int(rest[11]) + int(rest[12]), hwm))
    return out


def group_cpu_seconds(pgid: int) -> float:
    return sum(ticks for ticks, _ in _group_stats(pgid)) / CLK


def group_peak_rss_mb(pgid: int) -> float:
    """The largest peak resident set of one process in the group (per worker, not summed)."""
    return max((hwm for _, hwm in _group_stats(pgid)), default=0) / 1024
