"""The fast upstream path: body-less GET, OPTIONS and DELETE requests to plain-HTTP upstreams, on
asyncio protocols with httptools parsing and a keep-alive pool. Anything else (a body, HEAD, TLS, a
client certificate) goes to the `Upstream` it wraps, aiohttp's by default.

aiohttp's client was over half of a pass-through request's CPU (bench/README.md); this path writes
the request in one buffer and parses the answer in C. Its contract is AiohttpUpstream's: the same
headers and URL, Tyk's timeout (connect, then each wait for response bytes), UpstreamError before the
response starts, a truncated stream (never a false end) after. Only idempotent methods take this path,
so a request that meets a keep-alive connection the upstream just closed is sent again once.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from urllib.parse import urlsplit

import httptools

from gateway import errors
from gateway.errors import UpstreamError
from gateway.log import Throttle, get_logger
from gateway.proxy import (
    _WATCH_AFTER,
    SMALL_BODY,
    AiohttpUpstream,
    ProxyRequest,
    Receive,
    Send,
    Upstream,
    _response_headers,
    _wait_disconnect,
)

log = get_logger("proxy")

FAST_METHODS = frozenset({"GET", "OPTIONS", "DELETE"})  # idempotent, and their answers have bodies
IDLE_PER_HOST = 256
_HIGH_WATER = 256 * 1024  # buffered body bytes before the upstream socket is paused


class _Gone(Exception):
    """The connection closed before any byte of the answer arrived."""


class _Conn(asyncio.Protocol):
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
        self.wake = asyncio.Event()

    # -- asyncio ----------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.error = exc
            self._close()
        self.wake.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.head_done and not self.done and _delimited_by_close(self.headers):
            self.done = True  # no length, not chunked: the body ends when the connection does
        elif not self.done and self.error is None:
            self.error = _Gone() if not self.started else ConnectionError("upstream closed mid-response")
        self.wake.set()

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
        if self.buffered > _HIGH_WATER and self.transport is not None:
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
        self.wake.clear()
        async with asyncio.timeout(timeout):
            await self.wake.wait()

    def take(self) -> bytes:
        data = b"".join(self.chunks)
        self.chunks.clear()
        if self.buffered > _HIGH_WATER and self.transport is not None and not self.closed:
            self.transport.resume_reading()
        self.buffered = 0
        return data

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class FastUpstream:
    """`Upstream` for the common case, delegating the rest (see the module docstring)."""

    def __init__(self, fallback: Upstream | None = None) -> None:
        self.fallback = fallback or AiohttpUpstream()
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._hosts: dict[str, tuple[str, int, str] | tuple[()]] = {}
        self._aborts = Throttle(10.0)

    async def start(self) -> None:
        if isinstance(self.fallback, AiohttpUpstream):
            await self.fallback.start()

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn._close()
        self._idle.clear()
        if isinstance(self.fallback, AiohttpUpstream):
            await self.fallback.close()

    async def forward(self, req: ProxyRequest, receive: Receive, send: Send) -> int:
        target = self._target(req.url) if req.method in FAST_METHODS and not req.has_body else None
        if target is None or req.ssl is not None or not _clean(req.headers):
            return await self.fallback.forward(req, receive, send)
        host, port, netloc, path = target
        wire = _request(req, netloc, path)
        timeout = req.timeout if req.timeout > 0 else None
        for attempt in (1, 2):
            conn = await self._checkout(host, port, timeout, fresh=attempt == 2)
            conn.send(wire)
            try:
                while not conn.head_done:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(timeout)
            except _Gone:
                if conn.reused and attempt == 1:
                    continue  # the upstream closed an idle keep-alive connection: one fresh try
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from None
            except TimeoutError:
                conn._close()
                raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from None
            except (OSError, httptools.HttpParserError):
                conn._close()
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from None
            except BaseException:  # cancelled (the client left): the answer would never be read
                conn._close()
                raise
            try:
                return await self._answer(conn, (host, port), req, receive, send, timeout)
            except BaseException:
                conn._close()  # idempotent; a connection handed back to the pool is never closed here
                raise
        raise AssertionError("unreachable")

    async def _answer(
        self,
        conn: _Conn,
        where: tuple[str, int],
        req: ProxyRequest,
        receive: Receive,
        send: Send,
        timeout: float | None,
    ) -> int:
        headers, length = _response_headers(tuple(conn.headers), req.extra_response_headers)
        status = conn.status
        if conn.done or (length is not None and length <= SMALL_BODY):
            try:
                while not conn.done:  # a small body: read whole, sent in one message
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(timeout)
            except TimeoutError:
                conn._close()
                raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from None
            except (OSError, _Gone, httptools.HttpParserError):
                conn._close()
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from None
            body = conn.take()
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            self._checkin(conn, where)
            return status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if await self._stream(conn, receive, send, timeout):
            await send({"type": "http.response.body", "body": b""})
            self._checkin(conn, where)
        else:
            conn._close()
        return status

    async def _stream(self, conn: _Conn, receive: Receive, send: Send, timeout: float | None) -> bool:
        watcher: asyncio.Task[None] | None = None
        sent = 0
        try:
            while True:
                if conn.chunks:
                    chunk = conn.take()
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if watcher is not None and watcher.done():
                        return False  # the client left: stop pulling from the upstream
                    sent += len(chunk)
                    if watcher is None and sent > _WATCH_AFTER:
                        watcher = asyncio.create_task(_wait_disconnect(receive))
                    continue
                if conn.done:
                    return True
                if conn.error is not None:
                    raise conn.error
                await conn.wait(timeout)
        except (TimeoutError, OSError, _Gone, httptools.HttpParserError) as exc:
            if self._aborts.allow(str(id(self))):
                log.warning("upstream failed mid-response: %r", exc)
            return False
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _checkout(self, host: str, port: int, timeout: float | None, *, fresh: bool) -> _Conn:
        idle = None if fresh else self._idle.get((host, port))
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(_Conn, host, port)
        except TimeoutError:
            raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from None
        except socket.gaierror:
            raise UpstreamError(500, errors.UPSTREAM_DNS) from None
        except OSError:
            raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from None
        return conn

    def _checkin(self, conn: _Conn, where: tuple[str, int]) -> None:
        if conn.closed or not conn.done or not conn.keep_alive:
            conn._close()
            return
        idle = self._idle.setdefault(where, [])
        if len(idle) < IDLE_PER_HOST:
            idle.append(conn)
        else:
            conn._close()

    def _target(self, url: str) -> tuple[str, int, str, bytes] | None:
        """(host, port, Host header, request target) for a plain-HTTP ASCII URL; None otherwise."""
        if not url.startswith("http://") or not url.isascii():
            return None
        rest = url[7:]
        cut = len(rest)
        for mark in "/?":
            found = rest.find(mark)
            if found != -1 and found < cut:
                cut = found
        where = self._hosts.get(rest[:cut])
        if where is None:
            where = self._hosts[rest[:cut]] = _host(rest[:cut])
        if not where:
            return None
        path = rest[cut:] or "/"
        return where[0], where[1], where[2], ("/" + path if path[0] == "?" else path).encode()


def _host(netloc: str) -> tuple[str, int, str] | tuple[()]:
    """(host, port, Host header) of a netloc, once per netloc; () when it is not a plain host[:port]."""
    parts = urlsplit("http://" + netloc)
    try:
        port = parts.port or 80
    except ValueError:
        return ()
    if not parts.hostname or "@" in netloc:
        return ()
    return parts.hostname, port, netloc[:-3] if netloc.endswith(":80") else netloc


def _delimited_by_close(headers: list[tuple[bytes, bytes]]) -> bool:
    return not any(name.lower() in (b"content-length", b"transfer-encoding") for name, _ in headers)


def _clean(headers: list[tuple[str, str]]) -> bool:
    """No CR or LF anywhere: such a header is aiohttp's to refuse, never ours to write."""
    return not any("\r" in n or "\n" in n or "\r" in v or "\n" in v for n, v in headers)


def _request(req: ProxyRequest, netloc: str, path: bytes) -> bytes:
    lines = [req.method.encode() + b" " + path + b" HTTP/1.1"]
    has_host = False
    for name, value in req.headers:
        if not has_host and name.lower() == "host":
            has_host = True
        lines.append(name.encode("latin-1") + b": " + value.encode())
    if not has_host:
        lines.insert(1, b"Host: " + netloc.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n"
