"""The command line as a user runs it: a real process, real signals, real exit codes."""

from __future__ import annotations

import importlib.resources
import json
import os
import signal
import socket
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


def gateway(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        ("{oops", "not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2"),
        ('{"listen_port": "80"}', 'key "listen_port": expected an integer, got "80"'),
        ('{"listen_port": 70000}', 'key "listen_port": expected a port 1-65535, got 70000'),
        ('{"listen_port": -1}', 'key "listen_port": expected a port 1-65535, got -1'),
        ('{"listen_port": 0}', 'key "listen_port": expected a port 1-65535, got 0'),
        (
            '{"log_level": "loud"}',
            'key "log_level": expected one of "", "debug", "info", "warn", "error", got "loud"',
        ),
        ('{"proxy_default_timeout": -1}', 'key "proxy_default_timeout": expected seconds >= 0, got -1'),
    ],
)
def test_bad_config_exits_at_once_with_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    conf = tmp_path / "tyk.conf"
    if content is not None:
        conf.write_text(content)
    done = gateway("--conf", str(conf))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [f"error: {conf}: {message}"]
    assert not (tmp_path / "data").exists()  # nothing started: no store opened


def test_an_unresolvable_listen_address_is_one_line_before_serving(tmp_path: Path) -> None:
    conf = tmp_path / "tyk.conf"
    conf.write_text(json.dumps({"listen_address": "no-such-host.invalid", "listen_port": unused_port()}))
    try:
        socket.getaddrinfo("no-such-host.invalid", 80, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:  # the resolver's own words differ between systems
        reason = exc.strerror
    else:  # pragma: no cover - a resolver that answers for .invalid breaks RFC 6761
        pytest.fail("no-such-host.invalid resolved")
    done = gateway("--conf", str(conf))
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f'error: {conf}: key "listen_address": expected a host name or address that resolves, '
        f'got "no-such-host.invalid" ({reason})'
    ]
    assert not (tmp_path / "data").exists()


def test_no_conf_and_no_tyk_conf_here_says_how_to_get_one(tmp_path: Path) -> None:
    done = gateway(cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        'error: no tyk.conf here and no --conf given: run "python -m gateway init DIR" for a starter '
        "folder, then --conf DIR/tyk.conf"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing written where it was run


def test_serves_hello_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = unused_port()
    conf = tmp_path / "tyk.conf"
    conf.write_text(
        json.dumps(
            {
                "listen_address": "127.0.0.1",
                "listen_port": port,
                "app_path": "apps",
                "template_path": str(importlib.resources.files("gateway") / "templates"),
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
        with socket.socket() as s:
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
