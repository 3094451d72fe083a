"""One upstream HTTP/1.1 connection for the fast path: it writes a request as given and parses the answer
with httptools into a status, headers and body chunks, pausing the socket when unread body piles up.

It knows no pool, no timeouts' meaning and no ASGI: `upstream.fast` drives it. The request bytes are built
here too (`request_bytes`), from a ProxyRequest already filtered by `proxy.upstream_headers`.
"""

from __future__ import annotations

import asyncio
from collections import deque

import httptools

from gateway.tasks import expire
from gateway.upstream.proxy import ProxyRequest

HIGH_WATER = 256 * 1024  # buffered body bytes before the upstream socket is paused


class Gone(Exception):
    """The connection closed before any byte of the answer arrived."""

    def __init__(self) -> None:
        super().__init__("the upstream closed the connection without answering")  # for the failure log


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.started = False  # a byte of the current answer arrived
        self.head_done = False
        self.done = False
        self.keep_alive = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    # -- asyncio ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses
        # Kept: asyncio's running-loop lookup costs a getpid() syscall, once per request in `wait`.
        self._loop = asyncio.get_running_loop()

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = exc
            self.close()
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.done and delimited_by_close(self.headers):
            self.done = True  # no length, not chunked: the body ends when the connection does
        elif not self.done and self.error is None:
            self.error = Gone() if not self.started else ConnectionError("upstream closed mid-response")
        self._wake()

    # -- httptools --------------------------------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        if 100 <= self.status < 200:  # an interim answer (103 Early Hints): the real one follows
            self.headers.clear()
            return
        self.head_done = True

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and self.transport is not None:
            self.transport.pause_reading()

    def on_message_complete(self) -> None:
        if self.head_done:
            self.done = True
            self.keep_alive = self.parser.should_keep_alive()  # llhttp forgets it once the message ends

    # -- the caller's side ------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self._reset()
        self.transport.write(data)

    async def wait(self, timeout: float | None) -> None:
        """Until something new arrived (or the connection ended); TimeoutError after `timeout` s."""
        # A bare future and a timer: an asyncio.Event with an asyncio.timeout scope cost S1 about 9% of
        # its CPU (bench/README.md, "The server side").
        loop = self._loop
        self._waiter = waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        if self.buffered > HIGH_WATER and self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self.buffered = 0
        return data

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def delimited_by_close(headers: list[tuple[bytes, bytes]]) -> bool:
    return not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers)


def request_bytes(req: ProxyRequest, netloc: str, path: bytes) -> bytes:
    lines = [req.method.encode() + b" " + path + b" HTTP/1.1"]
    has_host = False
    for name, value in req.headers:
        if not has_host and name.lower() == "host":
            has_host = True
        lines.append(name.encode("latin-1") + b": " + value.encode())
    if not has_host:
        lines.insert(1, b"Host: " + netloc.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"
