"""The test kit's servers: `serve` starts and stops cleanly (and fails loudly), `echo_app` reports
what it received and honours its query flags, `StallingApp` holds requests until released."""

from __future__ import annotations

import asyncio
import hashlib

import httpx
import pytest

from gateway.testing.servers import PATTERN, StallingApp, echo_app, serve
from gateway.testing.upstream import ControlledUpstream
from gateway.upstream.proxy import Receive, Scope, Send


async def test_echo_reports_the_request() -> None:
    async with await serve(echo_app) as echo, httpx.AsyncClient(base_url=echo.url) as client:
        resp = await client.post("/a%2Fb?x=1&x=2", content=b"body", headers={"X-Test": "yes"})
    echoed = resp.json()
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert (echoed["method"], echoed["path"], echoed["raw_path"]) == ("POST", "/a/b", "/a%2Fb")
    assert echoed["query"] == "x=1&x=2"
    assert ["x-test", "yes"] in echoed["headers"]
    assert (echoed["body_length"], echoed["body_sha256"]) == (4, hashlib.sha256(b"body").hexdigest())


async def test_echo_flags_status_headers_and_size() -> None:
    async with await serve(echo_app) as echo, httpx.AsyncClient(base_url=echo.url) as client:
        flagged = await client.get("/?status=201&header=X-A:1&header=X-A:2")
        sized = await client.get("/?size=70000")
        chunked = await client.get("/?size=10&chunked=1")
    assert flagged.status_code == 201 and flagged.headers.get_list("x-a") == ["1", "2"]
    assert sized.content == (PATTERN * 5000)[:70000] and sized.headers["content-length"] == "70000"
    assert chunked.content == PATTERN[:10] and chunked.headers["transfer-encoding"] == "chunked"


async def test_close_stops_listening() -> None:
    served = await serve(echo_app)
    port = served.port
    assert served.url == f"http://127.0.0.1:{port}"
    await served.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "no database (expected in this test)"})


async def test_a_failed_startup_is_an_error_not_an_exit() -> None:
    with pytest.raises(RuntimeError, match="failed to start"):
        await serve(failing_startup, lifespan="on")


async def test_stalling_app_answers_once_released() -> None:
    stalling = StallingApp()
    async with await serve(stalling) as served, httpx.AsyncClient(base_url=served.url) as client:
        pending = asyncio.create_task(client.get("/"))
        async with asyncio.timeout(10):
            while stalling.arrived == 0:
                assert not pending.done()
                await asyncio.sleep(0.01)
        stalling.release()
        resp = await asyncio.wait_for(pending, 10)
    assert resp.status_code == 200 and resp.content == b""


async def test_controlled_upstream_fails_slows_and_recovers() -> None:
    upstream = ControlledUpstream()
    async with serve(upstream) as served, httpx.AsyncClient(base_url=served.url) as client:
        assert (await client.get("/a")).json() == {"ok": True, "path": "/a", "hits": 1}
        upstream.fail(503, prefix="/health")
        assert (await client.get("/health")).status_code == 503
        assert (await client.get("/a")).status_code == 200
        upstream.fail(500)
        assert (await client.get("/a")).status_code == 500
        upstream.recover()
        assert (await client.get("/health")).status_code == 200
        assert upstream.hits["/a"] == 3
        assert upstream.total == 5
