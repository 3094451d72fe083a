"""The fast upstream path against raw HTTP/1.1 servers that do what well-behaved frameworks rarely do:
a body ended by closing the connection, an interim 103 answer, a keep-alive connection closed right
after an answer (the next request is sent again on a new connection), connection reuse, and what it
hands to aiohttp (a body, HEAD, https)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.upstream.fast import FastUpstream
from gateway.upstream.proxy import AiohttpUpstream, Message, ProxyRequest

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class Counting(AiohttpUpstream):
    """The real aiohttp fallback, counting what it was handed."""

    calls = 0

    async def forward(self, req: ProxyRequest, receive: Any, send: Any) -> int:
        self.calls += 1
        return await super().forward(req, receive, send)


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def raw_server(handler: Handler) -> tuple[asyncio.Server, int, list[int]]:
    """A loopback server; `opened` counts connections, each handled by `handler(reader, writer, n)`."""
    opened: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        opened.append(len(opened) + 1)
        try:
            await handler(reader, writer, len(opened))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], opened


@pytest.fixture
async def fast() -> AsyncIterator[FastUpstream]:
    client = FastUpstream(Counting(16))
    await client.start()
    yield client
    await client.close()


async def call(
    client: FastUpstream, url: str, method: str = "GET", has_body: bool = False
) -> tuple[int, bytes]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"x" if has_body else b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [("content-length", "1")] if has_body else []
    status = await client.forward(ProxyRequest(method, url, headers, has_body, 5.0), receive, send)
    assert sent[0]["status"] == status
    return status, b"".join(m.get("body", b"") for m in sent[1:])


async def test_a_body_ended_by_closing_the_connection(fast: FastUpstream) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"y" * 200_000)
        await writer.drain()

    server, port, opened = await raw_server(handler)
    async with server:
        assert await call(fast, f"http://127.0.0.1:{port}/a") == (200, b"y" * 200_000)
        assert await call(fast, f"http://127.0.0.1:{port}/b") == (200, b"y" * 200_000)
    assert len(opened) == 2  # a closed connection is never reused


async def test_an_interim_answer_is_skipped(fast: FastUpstream) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        await read_head(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()

    server, port, _ = await raw_server(handler)
    async with server:
        assert await call(fast, f"http://127.0.0.1:{port}/") == (200, b"ok")


async def test_connections_are_reused_and_a_stale_one_is_replaced(fast: FastUpstream) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        answered = 0
        while True:
            await read_head(reader)
            answered += 1
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n" + str(n).encode())
            await writer.drain()
            if n == 1 and answered == 2:
                return  # closes the connection the client keeps for its next request

    server, port, opened = await raw_server(handler)
    async with server:
        bodies = [(await call(fast, f"http://127.0.0.1:{port}/"))[1] for _ in range(4)]
    # Two answers on connection 1; the third request found it closed and went on connection 2.
    assert bodies == [b"1", b"1", b"2", b"2"] and len(opened) == 2


async def test_bodies_head_and_https_go_to_aiohttp(fast: FastUpstream) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            head = await read_head(reader)
            if head.startswith(b"POST"):
                await reader.readexactly(1)
            body = b"" if head.startswith(b"HEAD") else b"ok"  # a HEAD answer has no body
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n" + body)
            await writer.drain()

    server, port, _ = await raw_server(handler)
    fallback = fast.fallback
    assert isinstance(fallback, Counting)
    async with server:
        url = f"http://127.0.0.1:{port}/"
        assert await call(fast, url) == (200, b"ok")
        assert fallback.calls == 0
        assert await call(fast, url, "POST", has_body=True) == (200, b"ok")
        assert (await call(fast, url, "HEAD"))[0] == 200
        assert fallback.calls == 2
    assert fast._target("https://127.0.0.1/") is None and fast._target("http://u:p@127.0.0.1/") is None
