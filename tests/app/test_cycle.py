"""The listener's lean request-response cycle (app/cycle.py) on a real server, spoken to over raw sockets:
a whole response in one write, a streamed head sent before its body, HEAD, chunked and HTTP/1.0 answers,
pipelining, the request target split into path and query, and heads or bodies it refuses to write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gateway.app import listener
from gateway.config.server import HttpServerOptions
from gateway.testing import Served, serve

Scope = dict[str, Any]


class App:
    """Answers by path; `/stream` sends its head, then waits for `release` before its body."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.scopes: list[Scope] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.scopes.append(scope)
        path = scope["path"]
        if path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-s", b"1")]})
            await self.release.wait()
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = {
            "/injected": [(b"x-bad", b"a\r\nset-cookie: evil=1"), (b"content-length", b"2")],
            "/badname": [(b"x bad", b"1"), (b"content-length", b"2")],
            "/lf": [(b"x-bad", b"a\nb: evil"), (b"content-length", b"2")],
            "/nul": [(b"x-bad", b"a\x00evil"), (b"content-length", b"2")],
            "/tab": [(b"x-tab", b"a\tb"), (b"content-length", b"2")],
            "/short": [(b"content-length", b"5")],
            "/close": [(b"Content-Length", b"2"), (b"Connection", b"keep-alive, Close")],
        }.get(path, [(b"content-length", b"2")])
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})


@asynccontextmanager
async def server() -> AsyncIterator[tuple[Served, App]]:
    app = App()
    async with serve(app, lifespan="off", protocol=listener.protocol(HttpServerOptions())) as served:
        yield served, app


async def exchange(served: Served, data: bytes, until: bytes | None = None) -> bytes:
    """Send `data`; read until the server closes, or until `until` has arrived."""
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    try:
        writer.write(data)
        got = b""
        while until is None or until not in got:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                break
            got += chunk
        return got
    finally:
        writer.close()


def get(target: str, method: str = "GET", version: str = "1.1", close: bool = True) -> bytes:
    extra = "Connection: close\r\n" if close else ""
    return f"{method} {target} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode()


async def test_a_whole_response_is_written_with_its_head() -> None:
    async with server() as (served, _):
        answer = await exchange(served, get("/x"))
    assert answer == b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"


async def test_a_streamed_head_goes_before_its_body_is_ready() -> None:
    async with server() as (served, app):
        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(get("/stream"))
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200 OK\r\nx-s: 1\r\n") and b"transfer-encoding: chunked" in head
        app.release.set()
        assert await asyncio.wait_for(reader.read(), 10) == b"3\r\nabc\r\n0\r\n\r\n"
        writer.close()


async def test_head_http10_and_pipelined_requests() -> None:
    async with server() as (served, _):
        head = await exchange(served, get("/x", method="HEAD"))
        old = await exchange(served, get("/x", version="1.0", close=False))
        both = await exchange(served, get("/a", close=False) + get("/b"))
    assert head.endswith(b"\r\n\r\n") and not head.endswith(b"ok")
    assert old.endswith(b"connection: close\r\n\r\nok")
    assert both.count(b"HTTP/1.1 200 OK") == 2 and both.endswith(b"ok")


async def test_the_target_is_split_into_path_and_query() -> None:
    async with server() as (served, app):
        await exchange(served, get("/a%20b/c?x=1&y=%20"))
        await exchange(served, get("http://t/abs?q=2"))
        await exchange(served, get("/frag?z=3#part"))
    seen = [(s["path"], s["raw_path"], s["query_string"]) for s in app.scopes]
    assert seen == [
        ("/a b/c", b"/a%20b/c", b"x=1&y=%20"),
        ("/abs", b"/abs", b"q=2"),
        ("/frag", b"/frag", b"z=3"),
    ]
    assert {s["method"] for s in app.scopes} == {"GET"} and "state" not in app.scopes[0]


async def test_a_connection_close_header_of_the_app_ends_the_connection() -> None:
    async with server() as (served, _):
        answer = await exchange(served, get("/close", close=False))
    assert answer.endswith(b"\r\n\r\nok") and answer.count(b"onnection") == 1


async def test_an_injected_or_malformed_header_is_never_written_and_answers_500() -> None:
    async with server() as (served, _):
        for path in ("/injected", "/badname", "/lf", "/nul"):
            answer = await exchange(served, get(path))
            assert answer.startswith(b"HTTP/1.1 500 Internal Server Error\r\n"), path
            assert b"evil" not in answer and b"x bad" not in answer, path
        assert b"\r\nx-tab: a\tb\r\n" in await exchange(served, get("/tab"))  # a tab is allowed


async def test_a_body_shorter_than_its_length_cuts_the_connection() -> None:
    async with server() as (served, _):
        answer = await exchange(served, get("/short", close=False))
    # Said 5 bytes, sent 2, then closed: the client can tell the answer is cut short.
    assert answer == b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok"
