"""The proxy against real servers: a uvicorn echo upstream and a raw-ASGI app wrapping the proxy
(listen path /api/, stripped), driven by httpx or a raw socket when the exact bytes matter."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import tracemalloc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from gateway import errors
from gateway.errors import UpstreamError
from gateway.testing import PATTERN, Served, StallingApp, echo_app, eventually, serve, unused_port
from gateway.upstream.fast import FastUpstream
from gateway.upstream.proxy import (
    AiohttpUpstream,
    ProxyRequest,
    Receive,
    Scope,
    Send,
    target_url,
    upstream_headers,
)

BIG = 100_000_000
CHUNK = 64 * 1024
Client = AiohttpUpstream | FastUpstream
# The whole process (client, proxy and upstream) may not grow by more than this while BIG bytes pass.
MEMORY_BOUND = 16 * 1024 * 1024


class ProxyApp:
    """The smallest gateway: route everything under the listen path to `target`, render errors."""

    def __init__(self, upstream: Client, target: str, *, timeout: float = 10.0, **options: Any):
        self.upstream = upstream
        self.target = target
        self.timeout = timeout
        self.options = options
        self.results: list[int | UpstreamError] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers, has_body = upstream_headers(
            scope["headers"],
            scope["client"][0],
            preserve_host=self.options.get("preserve_host", False),
            drop=self.options.get("drop", frozenset()),
        )
        url = target_url(self.target, "/api/", True, scope["raw_path"], scope["query_string"])
        extra = ((b"x-ratelimit-limit", b"10"),)
        request = ProxyRequest(scope["method"], url, headers, has_body, self.timeout, extra)
        try:
            self.results.append(await self.upstream.forward(request, receive, send))
        except UpstreamError as exc:
            self.results.append(exc)
            body, media = errors.render_error(exc.message)
            headers_out = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": exc.status, "headers": headers_out})
            await send({"type": "http.response.body", "body": body})


@pytest.fixture(params=["aiohttp", "fast"])
async def upstream(request: pytest.FixtureRequest) -> AsyncIterator[Client]:
    """Every proxy test runs on aiohttp alone and on the fast path (which hands it what it does not carry)."""
    client = (
        AiohttpUpstream(pool_size=16) if request.param == "aiohttp" else FastUpstream(AiohttpUpstream(16))
    )
    await client.start()
    yield client
    await client.close()


@pytest.fixture
async def echo() -> AsyncIterator[Served]:
    async with await serve(echo_app) as served:
        yield served


@asynccontextmanager
async def proxied(
    upstream: Client, target: str, **options: Any
) -> AsyncIterator[tuple[ProxyApp, Served, httpx.AsyncClient]]:
    app = ProxyApp(upstream, target, **options)
    served = await serve(app, lifespan="off")
    async with served, httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        yield app, served, client


async def raw_exchange(port: int, request: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Send exact request bytes (ending the connection after) and parse the reply by hand."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(b":") for line in lines)]
    return int(status_line.split()[1]), headers, body


def names(echoed: dict[str, Any]) -> list[str]:
    return [name for name, _ in echoed["headers"]]


def header(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key == name]


# -- pure functions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "strip", "raw_path", "query", "expected"),
    [
        ("http://u:1", True, b"/api/users", b"", "http://u:1/users"),
        ("http://u:1", True, b"/api/", b"", "http://u:1/"),
        ("http://u:1", True, b"/api", b"", "http://u:1/"),
        ("http://u:1/base/", True, b"/api/users/", b"", "http://u:1/base/users/"),
        ("http://u:1/base", True, b"/api/", b"", "http://u:1/base"),
        ("http://u:1/base//", True, b"/api//x", b"", "http://u:1/base/x"),
        ("http://u:1", False, b"/api/users", b"", "http://u:1/api/users"),
        ("http://u:1", True, b"/apiary", b"", "http://u:1/apiary"),
        ("http://u:1", True, b"/api/a%2Fb/%41", b"", "http://u:1/a%2Fb/%41"),
        ("http://u:1", True, b"/api/caf\xc3\xa9", b"q=\xff", "http://u:1/caf%C3%A9?q=%FF"),
        ("http://u:1/b?t=1", True, b"/api/x", b"y=2&y=3", "http://u:1/b/x?t=1&y=2&y=3"),
        ("http://u:1/b?t=1", True, b"/api/x", b"", "http://u:1/b/x?t=1"),
        ("https://u/b", True, b"/api/x", b"y=%20", "https://u/b/x?y=%20"),
    ],
)
def test_target_url_joins_as_tyk(
    target: str, strip: bool, raw_path: bytes, query: bytes, expected: str
) -> None:
    assert target_url(target, "/api/", strip, raw_path, query) == expected


def test_target_url_with_listen_path_without_trailing_slash() -> None:
    assert target_url("http://u", "/api", True, b"/api/users", b"") == "http://u/users"
    assert target_url("http://u", "/api", True, b"/api", b"") == "http://u/"
    assert target_url("http://u/t", "/", True, b"/x/y", b"") == "http://u/t/x/y"


def test_upstream_headers_filters_and_appends_forwarded_for() -> None:
    scope = [
        (b"host", b"gw:8080"),
        (b"connection", b"keep-alive, X-Foo"),
        (b"x-foo", b"1"),
        (b"keep-alive", b"timeout=5"),
        (b"te", b"trailers"),
        (b"proxy-authorization", b"Basic x"),
        (b"authorization", b"secret"),
        (b"x-forwarded-for", b"1.1.1.1"),
        (b"x-forwarded-for", b"2.2.2.2"),
        (b"x-keep", b"caf\xc3\xa9"),
    ]
    headers, has_body = upstream_headers(
        scope, "10.0.0.9", preserve_host=False, drop=frozenset({b"authorization"})
    )
    assert headers == [("x-keep", "café"), ("x-forwarded-for", "1.1.1.1, 2.2.2.2, 10.0.0.9")]
    assert not has_body
    headers, _ = upstream_headers(
        [(b"host", b"gw"), (b"x-forwarded-for", b"1.1.1.1")], "", preserve_host=True
    )
    assert headers == [("host", "gw"), ("x-forwarded-for", "1.1.1.1")]  # no client address: left alone


@pytest.mark.parametrize(
    ("headers", "has_body"),
    [
        ([], False),
        ([(b"content-length", b"0")], False),
        ([(b"content-length", b"00")], False),
        ([(b"content-length", b"10")], True),
        ([(b"transfer-encoding", b"chunked")], True),
        ([(b"connection", b"transfer-encoding"), (b"transfer-encoding", b"chunked")], True),
    ],
)
def test_upstream_headers_detects_a_body(headers: list[tuple[bytes, bytes]], has_body: bool) -> None:
    forwarded, found = upstream_headers(headers, "127.0.0.1", preserve_host=False)
    assert found is has_body
    assert all(name not in ("transfer-encoding", "connection") for name, _ in forwarded)


# -- against real servers ------------------------------------------------------------------------


async def test_method_raw_path_and_query_reach_the_upstream(upstream: Client, echo: Served) -> None:
    async with proxied(upstream, echo.url + "/base?t=0") as (app, _, client):
        resp = await client.request("PATCH", "/api/a%2Fb/%41?x=1&y=%20")
    echoed = resp.json()
    assert resp.status_code == 200 and app.results == [200]
    assert echoed["method"] == "PATCH"
    assert echoed["raw_path"] == "/base/a%2Fb/%41"
    assert echoed["query"] == "t=0&x=1&y=%20"


async def test_exact_headers_on_the_wire(upstream: Client, echo: Served) -> None:
    """aiohttp adds nothing the client did not send: no User-Agent, Accept, Accept-Encoding."""
    async with proxied(upstream, echo.url) as (_, proxy, _):
        status, _, body = await raw_exchange(
            proxy.port,
            b"GET /api/h HTTP/1.1\r\nHost: gw.example\r\nConnection: close, X-Foo\r\nX-Foo: gone\r\n"
            b"Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Connection: keep-alive\r\n"
            b"X-Forwarded-For: 203.0.113.7\r\nX-Custom: a\r\nX-Custom: b\r\nX-Utf8: caf\xc3\xa9\r\n\r\n",
        )
    echoed = json.loads(body)
    assert status == 200
    assert names(echoed) == ["host", "x-custom", "x-custom", "x-utf8", "x-forwarded-for"]
    assert header(echoed, "host") == [f"127.0.0.1:{echo.port}"]
    assert header(echoed, "x-custom") == ["a", "b"]
    assert header(echoed, "x-utf8") == [b"caf\xc3\xa9".decode("latin-1")]  # the same bytes arrived
    assert header(echoed, "x-forwarded-for") == ["203.0.113.7, 127.0.0.1"]


async def test_preserve_host_keeps_the_client_host(upstream: Client, echo: Served) -> None:
    async with proxied(upstream, echo.url, preserve_host=True) as (_, _, client):
        echoed = (await client.get("/api/", headers={"Host": "api.example"})).json()
    assert header(echoed, "host") == ["api.example"]


async def test_post_body_is_forwarded_with_the_clients_framing(upstream: Client, echo: Served) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"hel", b"lo"):
            yield part

    async with proxied(upstream, echo.url) as (_, proxy, client):
        sized = (await client.post("/api/in", content=b"hello")).json()
        chunked = (await client.post("/api/in", content=chunks())).json()
        _, _, raw = await raw_exchange(
            proxy.port,
            b"POST /api/in HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
        )
    digest = hashlib.sha256(b"hello").hexdigest()
    for echoed in (sized, chunked, json.loads(raw)):
        assert (echoed["body_length"], echoed["body_sha256"]) == (5, digest)
    assert header(sized, "content-length") == ["5"] and not header(sized, "transfer-encoding")
    assert header(chunked, "transfer-encoding") == ["chunked"] and not header(chunked, "content-length")
    assert "content-type" not in names(json.loads(raw))


async def test_expect_continue_is_handled_by_the_gateway(upstream: Client, echo: Served) -> None:
    async with proxied(upstream, echo.url) as (_, proxy, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        try:
            writer.write(
                b"PUT /api/in HTTP/1.1\r\nHost: gw\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
                b"Connection: close\r\n\r\n"
            )
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(b"hello")
            final = await asyncio.wait_for(reader.read(), 10)
        finally:
            writer.close()
            await writer.wait_closed()
    assert interim.startswith(b"HTTP/1.1 100 ")
    echoed = json.loads(final.partition(b"\r\n\r\n")[2])
    assert echoed["body_length"] == 5 and "expect" not in names(echoed)


async def test_response_status_and_multi_valued_headers(upstream: Client, echo: Served) -> None:
    query = (
        "status=418&header=Set-Cookie:a=1&header=Set-Cookie:b=2&header=Server:up/1"
        "&header=Connection:X-Up&header=X-Up:hidden&header=Keep-Alive:timeout=5"
        "&header=X-RateLimit-Limit:999"
    )
    async with proxied(upstream, echo.url) as (app, _, client):
        resp = await client.get("/api/?" + query)
    assert resp.status_code == 418 and app.results == [418]
    assert resp.headers.get_list("set-cookie") == ["a=1", "b=2"]
    assert resp.headers.get_list("server") == ["up/1"]
    assert resp.headers.get_list("x-ratelimit-limit") == ["10"]  # the gateway's replaces the upstream's
    assert "x-up" not in resp.headers and "keep-alive" not in resp.headers


async def test_head_and_empty_bodies(upstream: Client, echo: Served) -> None:
    async with proxied(upstream, echo.url) as (_, _, client):
        get = await client.get("/api/same")
        head = await client.head("/api/same")
        empty = await client.get("/api/?size=0")
        big_head = await client.head("/api/?size=1000000")
    assert get.headers["content-length"] == str(len(get.content))
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(get.content) + len("HEAD") - len("GET")
    assert empty.content == b"" and empty.headers["content-length"] == "0"
    assert big_head.content == b"" and big_head.headers["content-length"] == "1000000"


@pytest.mark.parametrize("chunked", [False, True])
async def test_medium_response_streams_intact(upstream: Client, echo: Served, chunked: bool) -> None:
    size = 300_001
    async with proxied(upstream, echo.url) as (_, _, client):
        resp = await client.get(f"/api/?size={size}&chunked={int(chunked)}")
    assert resp.content == (PATTERN * (size // len(PATTERN) + 1))[:size]
    assert ("content-length" in resp.headers) is not chunked


def _pattern_stream(size: int, digest: Any) -> AsyncIterator[bytes]:
    async def produce() -> AsyncIterator[bytes]:
        block = b"z" * CHUNK
        left = size
        while left:
            part = block[: min(left, CHUNK)]
            digest.update(part)
            left -= len(part)
            yield part

    return produce()


async def test_100mb_upload_streams_without_buffering(upstream: Client, echo: Served) -> None:
    digest = hashlib.sha256()
    async with proxied(upstream, echo.url) as (_, _, client):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            resp = await client.post(
                "/api/upload", content=_pattern_stream(BIG, digest), headers={"content-length": str(BIG)}
            )
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    echoed = resp.json()
    assert (echoed["body_length"], echoed["body_sha256"]) == (BIG, digest.hexdigest())
    assert header(echoed, "content-length") == [str(BIG)]
    assert peak < MEMORY_BOUND, f"memory grew by {peak} bytes while streaming {BIG}"


async def test_100mb_download_streams_without_buffering(upstream: Client, echo: Served) -> None:
    got = 0
    async with proxied(upstream, echo.url) as (_, _, client):
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            async with client.stream("GET", f"/api/?size={BIG}") as resp:
                assert resp.headers["content-length"] == str(BIG)
                async for chunk in resp.aiter_raw():
                    offset = got % len(PATTERN)
                    expected = (PATTERN * (len(chunk) // len(PATTERN) + 2))[offset : offset + len(chunk)]
                    assert chunk == expected, f"wrong bytes at offset {got}"
                    got += len(chunk)
            peak = tracemalloc.get_traced_memory()[1] - base
        finally:
            tracemalloc.stop()
    assert got == BIG
    assert peak < MEMORY_BOUND, f"memory grew by {peak} bytes while streaming {BIG}"


async def test_refused_upstream_is_a_500(upstream: Client) -> None:
    async with proxied(upstream, f"http://127.0.0.1:{unused_port()}") as (app, _, client):
        resp = await client.get("/api/x")
    assert resp.status_code == 500
    assert resp.json() == {"error": errors.UPSTREAM_PROBLEM}
    assert [r.status for r in app.results if isinstance(r, UpstreamError)] == [500]


async def test_dns_failure_is_a_500_lookup_failed(upstream: Client) -> None:
    async with proxied(upstream, "http://no-such-upstream.invalid") as (_, _, client):
        resp = await client.get("/api/x")
    assert resp.status_code == 500
    assert resp.json() == {"error": errors.UPSTREAM_DNS}


async def test_silent_upstream_is_a_504(upstream: Client) -> None:
    stalling = StallingApp()
    async with await serve(stalling) as silent:
        try:
            async with proxied(upstream, silent.url, timeout=0.3) as (_, _, client):
                started = time.monotonic()
                resp = await client.get("/api/x")
                elapsed = time.monotonic() - started
        finally:
            stalling.release()  # before the silent server stops: it waits for its open requests
    assert resp.status_code == 504
    assert resp.json() == {"error": errors.UPSTREAM_TIMEOUT}
    assert stalling.arrived == 1 and 0.25 < elapsed < 5


async def test_client_leaving_during_upload_is_a_499(upstream: Client, echo: Served) -> None:
    async with proxied(upstream, echo.url) as (app, proxy, _):
        _, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /api/in HTTP/1.1\r\nHost: gw\r\nContent-Length: 10000000\r\n\r\n" + b"x" * 100_000
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await eventually(lambda: bool(app.results))
    [result] = app.results
    assert isinstance(result, UpstreamError)
    assert (result.status, result.message) == (499, errors.CLIENT_CLOSED)


async def breaking_upstream(scope: Scope, receive: Receive, send: Send) -> None:
    """Promises `?length=N` bytes (or a chunked body), sends part of it, then fails."""
    length = dict(pair.split("=") for pair in scope["query_string"].decode().split("&"))["length"]
    headers = [(b"content-length", length.encode())] if length != "chunked" else []
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"x" * 500, "more_body": True})
    raise RuntimeError("the upstream dies mid-response (expected in this test)")


@pytest.mark.parametrize("length", ["1000000", "chunked"])
async def test_failure_mid_response_never_looks_complete(upstream: Client, length: str) -> None:
    async with (
        await serve(breaking_upstream, lifespan="off") as broken,
        proxied(upstream, broken.url) as (app, _, client),
    ):
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"/api/?length={length}")
        await eventually(lambda: bool(app.results))
    assert app.results == [200]  # the status the client got before the stream broke


async def test_failure_in_a_small_body_is_still_a_clean_500(upstream: Client) -> None:
    async with (
        await serve(breaking_upstream, lifespan="off") as broken,
        proxied(upstream, broken.url) as (_, _, client),
    ):
        resp = await client.get("/api/?length=1000")
    assert resp.status_code == 500
    assert resp.json() == {"error": errors.UPSTREAM_PROBLEM}


class EndlessUpstream:
    """Streams for ever, until its client (the proxy) closes the connection."""

    def __init__(self) -> None:
        self.stopped = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while not gone.is_set():
            await send({"type": "http.response.body", "body": PATTERN * 4096, "more_body": True})
            await asyncio.sleep(0)  # uvicorn's send does not yield once the peer is gone
        watcher.cancel()
        self.stopped.set()


async def test_client_leaving_a_long_download_closes_the_upstream(
    upstream: Client,
) -> None:
    endless = EndlessUpstream()
    async with (
        await serve(endless, lifespan="off") as source,
        proxied(upstream, source.url) as (app, _, client),
    ):
        got = 0
        async with client.stream("GET", "/api/forever") as resp:
            async for chunk in resp.aiter_raw():
                got += len(chunk)
                if got > 4 * 1024 * 1024:
                    break
        await asyncio.wait_for(endless.stopped.wait(), 10)
        await eventually(lambda: bool(app.results))
    assert app.results == [200]


async def test_forward_before_start_is_a_clear_error() -> None:
    async def never() -> dict[str, Any]:
        raise AssertionError("not called")

    async def ignore(message: Any) -> None:
        raise AssertionError("not called")

    request = ProxyRequest("GET", "http://127.0.0.1:1/", [], False, 1.0)
    with pytest.raises(RuntimeError, match="start"):
        await AiohttpUpstream().forward(request, never, ignore)
