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
from urllib.parse import urlsplit

import httptools

from gateway import errors
from gateway.errors import UpstreamError
from gateway.log import Throttle, get_logger
from gateway.upstream.proxy import (
    SMALL_BODY,
    WATCH_AFTER,
    AiohttpUpstream,
    ProxyRequest,
    Receive,
    Send,
    Upstream,
    client_response_headers,
    wait_disconnect,
)
from gateway.upstream.wire import Connection, Gone, request_bytes

log = get_logger("proxy")

FAST_METHODS = frozenset({"GET", "OPTIONS", "DELETE"})  # idempotent, and their answers have bodies
IDLE_PER_HOST = 256


class FastUpstream:
    """`Upstream` for the common case, delegating the rest (see the module docstring)."""

    def __init__(self, fallback: Upstream | None = None) -> None:
        self.fallback = fallback or AiohttpUpstream()
        self._idle: dict[tuple[str, int], list[Connection]] = {}
        self._hosts: dict[str, tuple[str, int, str] | tuple[()]] = {}
        self._aborts = Throttle(10.0)

    async def start(self) -> None:
        if isinstance(self.fallback, AiohttpUpstream):
            await self.fallback.start()

    async def close(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                conn.close()
        self._idle.clear()
        if isinstance(self.fallback, AiohttpUpstream):
            await self.fallback.close()

    async def forward(self, req: ProxyRequest, receive: Receive, send: Send) -> int:
        target = self._target(req.url) if req.method in FAST_METHODS and not req.has_body else None
        if target is None or req.ssl is not None or not _clean(req.headers):
            return await self.fallback.forward(req, receive, send)
        host, port, netloc, path = target
        wire = request_bytes(req, netloc, path)
        timeout = req.timeout if req.timeout > 0 else None
        for attempt in (1, 2):
            conn = await self._checkout(host, port, timeout, fresh=attempt == 2)
            conn.send(wire)
            try:
                while not conn.head_done:
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(timeout)
            except Gone as exc:
                if conn.reused and attempt == 1:
                    continue  # the upstream closed an idle keep-alive connection: one fresh try
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from exc
            except TimeoutError as exc:
                conn.close()
                raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from exc
            except (OSError, httptools.HttpParserError) as exc:
                conn.close()
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from exc
            except BaseException:  # cancelled (the client left): the answer would never be read
                conn.close()
                raise
            try:
                return await self._answer(conn, (host, port), req, receive, send, timeout)
            except BaseException:
                conn.close()  # idempotent; a connection handed back to the pool is never closed here
                raise
        raise AssertionError("unreachable")

    async def _answer(
        self,
        conn: Connection,
        where: tuple[str, int],
        req: ProxyRequest,
        receive: Receive,
        send: Send,
        timeout: float | None,
    ) -> int:
        headers, length = client_response_headers(tuple(conn.headers), req.extra_response_headers)
        status = conn.status
        if conn.done or (length is not None and length <= SMALL_BODY):
            try:
                while not conn.done:  # a small body: read whole, sent in one message
                    if conn.error is not None:
                        raise conn.error
                    await conn.wait(timeout)
            except TimeoutError as exc:
                conn.close()
                raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from exc
            except (OSError, Gone, httptools.HttpParserError) as exc:
                conn.close()
                raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from exc
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
            conn.close()
        return status

    async def _stream(self, conn: Connection, receive: Receive, send: Send, timeout: float | None) -> bool:
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
                    if watcher is None and sent > WATCH_AFTER:
                        watcher = asyncio.create_task(wait_disconnect(receive))
                    continue
                if conn.done:
                    return True
                if conn.error is not None:
                    raise conn.error
                await conn.wait(timeout)
        except (TimeoutError, OSError, Gone, httptools.HttpParserError) as exc:
            if self._aborts.allow(str(id(self))):
                log.warning("upstream failed mid-response: %r", exc)
            return False
        finally:
            if watcher is not None:
                watcher.cancel()

    async def _checkout(self, host: str, port: int, timeout: float | None, *, fresh: bool) -> Connection:
        idle = None if fresh else self._idle.get((host, port))
        while idle:
            conn = idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(Connection, host, port)
        except TimeoutError as exc:
            raise UpstreamError(504, errors.UPSTREAM_TIMEOUT) from exc
        except socket.gaierror as exc:
            raise UpstreamError(500, errors.UPSTREAM_DNS) from exc
        except OSError as exc:  # chained: the route's failure log names the cause (connection refused)
            raise UpstreamError(500, errors.UPSTREAM_PROBLEM) from exc
        return conn

    def _checkin(self, conn: Connection, where: tuple[str, int]) -> None:
        if conn.closed or not conn.done or not conn.keep_alive:
            conn.close()
            return
        idle = self._idle.setdefault(where, [])
        if len(idle) < IDLE_PER_HOST:
            idle.append(conn)
        else:
            conn.close()

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


def _clean(headers: list[tuple[str, str]]) -> bool:
    """No CR or LF anywhere: such a header is aiohttp's to refuse, never ours to write."""
    return not any("\r" in n or "\n" in n or "\r" in v or "\n" in v for n, v in headers)
