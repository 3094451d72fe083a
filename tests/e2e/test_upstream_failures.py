"""Upstream failures in the log, through a real gateway: one line per API and target host per interval,
naming the API, host:port and the cause, then a count of the failures it held back. Both upstream
clients: a GET takes the fast path, a POST with a body aiohttp's. The client still gets Tyk's body."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import errors, routing
from gateway.testing import RunningGateway, StallingApp, echo_app, eventually, run_gateway, serve, unused_port
from tests.pki import PKI

KEY = "raw-client-key-0123456789"


def api(api_id: str, target: str) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": f"{api_id} API",
        "org_id": "org1",
        "use_keyless": True,
        "proxy": {"listen_path": f"/{api_id}/", "target_url": target, "strip_listen_path": True},
    }


async def call(gw: RunningGateway, method: str, path: str) -> httpx.Response:
    # The key in the query and a header must never reach the log (only host:port is named).
    body = b'{"a": 1}' if method == "POST" else None
    return await gw.client.request(method, f"{path}?key={KEY}", content=body, headers={"authorization": KEY})


def failure_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "gateway.proxy"]


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_refused_upstream_is_logged_once_per_api_and_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.proxy")
    port = unused_port()
    target = f"http://127.0.0.1:{port}"
    async with run_gateway(tmp_path, apis=[api("down", target), api("also", target + "/v1")]) as gw:
        answers = [await call(gw, method, path) for path in ["/down/x", "/also/y"] * 4]
    assert {(a.status_code, a.content) for a in answers} == {
        (500, errors.render_error(errors.UPSTREAM_PROBLEM)[0])
    }
    assert sorted(failure_lines(caplog)) == [
        f"API 'also API' (also): upstream 127.0.0.1:{port} failed: connection refused",
        f"API 'down API' (down): upstream 127.0.0.1:{port} failed: connection refused",
    ]
    assert KEY not in caplog.text


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_the_next_line_counts_the_failures_held_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setattr(routing, "FAILURE_LOG_INTERVAL", 0.5)  # read when the API loads
    caplog.set_level(logging.WARNING, logger="gateway.proxy")
    port = unused_port()
    sent = 0

    async def counted_line() -> bool:
        nonlocal sent
        assert (await call(gw, method, "/down/x")).status_code == 500
        sent += 1
        return "more since the last line" in failure_lines(caplog)[-1]

    async with run_gateway(tmp_path, apis=[api("down", f"http://127.0.0.1:{port}")]) as gw:
        await eventually(counted_line, "a line counting the failures it held back")
    lines = failure_lines(caplog)
    pattern = (
        rf"API 'down API' \(down\): upstream 127\.0\.0\.1:{port} failed: connection refused"
        r"(?: \((\d+) more since the last line\))?"
    )
    matches = [re.fullmatch(pattern, line) for line in lines]
    assert all(matches), lines
    held = [int(m.group(1) or 0) for m in matches if m is not None]
    assert held[0] == 0 and held[-1] > 0
    assert sum(held) + len(lines) == sent  # every failure is a line or counted in the next one


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_silent_upstream_is_logged_as_a_timeout(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.proxy")
    stalling = StallingApp()
    async with await serve(stalling) as silent:
        try:
            config = {"proxy_default_timeout": 0.3}
            async with run_gateway(tmp_path, apis=[api("slow", silent.url)], config=config) as gw:
                answer = await call(gw, method, "/slow/x")
        finally:
            stalling.release()  # before the silent server stops: it waits for its open requests
    assert (answer.status_code, answer.json()) == (504, {"error": errors.UPSTREAM_TIMEOUT})
    assert failure_lines(caplog) == [
        f"API 'slow API' (slow): upstream 127.0.0.1:{silent.port} failed: timed out after 0.3 s"
    ]


async def test_a_tls_failure_is_logged_with_the_tls_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.proxy")
    pki = PKI()  # the gateway does not trust this CA
    async with await serve(echo_app, ssl=pki.server_context()) as upstream:
        async with run_gateway(tmp_path, apis=[api("tls", upstream.url)]) as gw:
            answer = await call(gw, "GET", "/tls/x")
    assert (answer.status_code, answer.json()) == (500, {"error": errors.UPSTREAM_PROBLEM})
    (line,) = failure_lines(caplog)
    assert line.startswith(f"API 'tls API' (tls): upstream 127.0.0.1:{upstream.port} failed: TLS error: ")
    assert "CERTIFICATE_VERIFY_FAILED" in line


async def test_a_working_upstream_logs_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway.proxy")
    async with await serve(echo_app) as upstream, run_gateway(tmp_path, apis=[api("ok", upstream.url)]) as gw:
        answers = [await call(gw, method, "/ok/x") for method in ("GET", "POST")]
    assert [a.status_code for a in answers] == [200, 200]
    assert failure_lines(caplog) == []
