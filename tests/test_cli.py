"""The command line as a user runs it: a real process, real signals, real exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.testing import unused_port

ROOT = Path(__file__).resolve().parents[1]


def start(conf: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway", "--conf", str(conf)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_ready(url: str, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"gateway exited early: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # bounded poll for the process to listen
    raise AssertionError("gateway did not become ready")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "file not found"),
        ("{oops", "not valid JSON"),
        ('{"listen_port": "80"}', 'key "listen_port": expected an integer'),
    ],
)
def test_bad_config_exits_at_once_with_one_line(tmp_path: Path, content: str | None, needle: str) -> None:
    conf = tmp_path / "tyk.conf"
    if content is not None:
        conf.write_text(content)
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--conf", str(conf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(conf) in lines[0] and needle in lines[0]


def test_serves_hello_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = unused_port()
    conf = tmp_path / "tyk.conf"
    conf.write_text(
        json.dumps(
            {
                "listen_address": "127.0.0.1",
                "listen_port": port,
                "app_path": "apps",
                "template_path": str(ROOT / "templates"),
            }
        )
    )
    (tmp_path / "apps").mkdir()
    proc = start(conf)
    try:
        wait_ready(f"http://127.0.0.1:{port}/hello", proc)
        hello = httpx.get(f"http://127.0.0.1:{port}/hello").json()
        assert hello["status"] == "pass" and hello["description"] == "Tyk GW"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert (tmp_path / "data").is_dir()  # the embedded store lives beside the config


def test_demo_walkthrough_runs(tmp_path: Path) -> None:
    for port in (8000, 8080, 9000):
        with __import__("socket").socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"port {port} is busy: the demo needs 8000, 8080 and 9000 free")
    env = {
        **os.environ,
        "TYK_GW_STORAGE_PATH": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "demo", "--run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[200, 200, 429]" in done.stdout
    assert '"event": "RatelimitExceeded"' in done.stdout and "x-tyk" in done.stdout
