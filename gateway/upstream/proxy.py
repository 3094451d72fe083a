"""The upstream seam (`Upstream`) and its default aiohttp client: URL joining, header filtering, and
bodies streamed both ways with raw ASGI sends. This is the hot path: no Starlette, no per-request
tasks for ordinary responses. It decides nothing about access and renders no error bodies: failures
before the response starts are raised as `UpstreamError` for the caller to render.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote_from_bytes, urlsplit

import aiohttp
from yarl import URL

from gateway import errors
from gateway.errors import UpstreamError
from gateway.log import Throttle, get_logger

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = get_logger("proxy")

# Hop-by-hop headers (RFC 9110 7.6.1, plus the ones Go's ReverseProxy also drops).
HOP_BY_HOP = frozenset(
    b"connection proxy-connection keep-alive proxy-authenticate proxy-authorization"
    b" te trailer transfer-encoding upgrade".split()
)
# `Expect: 100-continue` is answered to the client by the server when the body is first read; sent on,
# aiohttp would wait for the upstream's 100 with no time limit (Go's proxy sends the body at once).
_REQUEST_SKIP = HOP_BY_HOP | {b"expect"}
_REQUEST_SKIP_HOST = _REQUEST_SKIP | {b"host"}
# Responses up to this size are read whole and sent in one body message: fewer ASGI sends.
SMALL_BODY = 64 * 1024
# A streamed response watches for the client leaving only past this size: the watch costs a task.
WATCH_AFTER = 1024 * 1024
# aiohttp would otherwise add headers the client never sent (perf-baseline, pitfall 3c).
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
# Characters kept as they are when a raw path or query holds non-ASCII bytes that must be escaped.
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    method: str
    url: str  # the full upstream URL, already percent-encoded
    headers: list[tuple[str, str]]  # filtered, ready to send
    has_body: bool
    timeout: float  # seconds to connect and, once the request is sent, to wait for response bytes
    extra_response_headers: tuple[tuple[bytes, bytes], ...] = ()
    ssl: ssl.SSLContext | None = None  # a client certificate for the upstream (upstream_certificates)


class Upstream(Protocol):
    async def forward(self, req: ProxyRequest, receive: Receive, send: Send) -> int:
        """Send `req` upstream and stream the answer to `send`; return the status sent to the client."""
        ...


@lru_cache(maxsize=1024)
def _split_target(target: str) -> tuple[str, str, str]:
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/"), parts.query


def target_url(target: str, listen_path: str, strip: bool, raw_path: bytes, query: bytes) -> str:
    """Tyk's upstream URL: strip the listen path, join paths with one slash, target query first.

    As in Tyk's `singleJoiningSlash`, trailing slashes of the target path and leading slashes of the
    request path collapse into one, and an empty remainder adds none (`/api/` -> target path as is).
    Percent-encodings in the raw path (`%2F`) are kept byte for byte.
    """
    base, target_path, target_query = _split_target(target)
    path = raw_path.decode("latin-1") if raw_path.isascii() else quote_from_bytes(raw_path, _URL_SAFE)
    if strip and listen_path:
        if path.startswith(listen_path):
            path = path[len(listen_path) :]
        elif path == listen_path.rstrip("/"):
            path = ""  # our routing sends `/api` to listen path `/api/`, so it strips to `/`
    rest = path.lstrip("/")
    joined = f"{target_path}/{rest}" if rest else target_path
    url = base + (joined or "/")
    if query:
        q = query.decode("latin-1") if query.isascii() else quote_from_bytes(query, _URL_SAFE)
        return f"{url}?{target_query}&{q}" if target_query else f"{url}?{q}"
    return f"{url}?{target_query}" if target_query else url


def _connection_tokens(value: bytes) -> set[bytes]:
    return {token.strip().lower() for token in value.split(b",") if token.strip()}


def upstream_headers(
    scope_headers: list[tuple[bytes, bytes]],
    client_ip: str,
    *,
    preserve_host: bool,
    drop: frozenset[bytes] = frozenset(),
) -> tuple[list[tuple[str, str]], bool]:
    """Request headers to forward, and whether a body follows (non-zero Content-Length or any
    Transfer-Encoding). Drops hop-by-hop headers, those named in `Connection`, `Expect`, `Host` unless
    `preserve_host`, and `drop` (lower-case names); appends the client to X-Forwarded-For as Go does.
    """
    skip: frozenset[bytes] | set[bytes] = _REQUEST_SKIP if preserve_host else _REQUEST_SKIP_HOST
    if drop:
        skip = skip | drop
    for name, value in scope_headers:
        if name == b"connection":
            skip = skip | _connection_tokens(value)
    out: list[tuple[str, str]] = []
    forwarded: list[str] = []
    has_body = False
    for name, value in scope_headers:
        if name == b"content-length":
            has_body = has_body or value.strip().lstrip(b"0") != b""
        elif name == b"transfer-encoding":
            has_body = True
        if name in skip:
            continue
        try:
            text = value.decode()  # aiohttp writes str as UTF-8, so UTF-8 values arrive unchanged
        except UnicodeDecodeError:
            text = value.decode("latin-1")  # rare non-UTF-8 bytes: forwarded, but re-encoded
        if name == b"x-forwarded-for" and client_ip:
            forwarded.append(text)
        else:
            out.append((name.decode("latin-1"), text))
    if client_ip:
        forwarded.append(client_ip)
        out.append(("x-forwarded-for", ", ".join(forwarded)))
    return out, has_body


def client_response_headers(
    raw: tuple[tuple[bytes, bytes], ...], extra: tuple[tuple[bytes, bytes], ...]
) -> tuple[list[tuple[bytes, bytes]], int | None]:
    """Client response headers (hop-by-hop removed, `extra` replacing same-named ones) and the
    Content-Length, if any."""
    out: list[tuple[bytes, bytes]] = []
    named: set[bytes] = set()
    length: int | None = None
    for name, value in raw:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"connection":
                named |= _connection_tokens(value)
            continue
        if lower == b"content-length" and value.isdigit():
            length = int(value)
        out.append((lower, value))
    # The gateway's own headers (X-RateLimit-*) replace an upstream's copies, as Tyk's Header.Set does.
    named |= {name for name, _ in extra}
    if named:
        out = [(name, value) for name, value in out if name not in named]
    out.extend(extra)
    return out, length


class _ClientGone(Exception):
    """The client disconnected while its request body was being streamed upstream."""


class _RequestBody:
    """The ASGI request body as an async iterator for aiohttp, remembering how it ended."""

    __slots__ = ("_receive", "disconnected", "done")

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.done = False
        self.disconnected = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise _ClientGone
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                self.done = True
                return


async def wait_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _upstream_error(exc: BaseException, body: _RequestBody | None) -> UpstreamError:
    if body is not None and body.disconnected:
        return UpstreamError(499, errors.CLIENT_CLOSED)
    if isinstance(exc, TimeoutError):  # aiohttp's connect and read timeouts subclass it
        return UpstreamError(504, errors.UPSTREAM_TIMEOUT)
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, socket.gaierror):
        return UpstreamError(500, errors.UPSTREAM_DNS)
    return UpstreamError(500, errors.UPSTREAM_PROBLEM)


class AiohttpUpstream:
    """The default `Upstream`: one shared aiohttp session, keep-alive pool, nothing added or decoded.

    The timeout is Tyk's `proxy_default_timeout`: it bounds getting a connection (DNS, pool, connect)
    and the wait for response bytes once the request is sent (Go's ResponseHeaderTimeout); it does
    not cap a long, steady download. A failure after the response started cannot be rendered: the
    stream stops, a warning is logged and `forward` returns, so the server closes the connection
    (the client sees a truncated response, never a false end).
    """

    def __init__(self, pool_size: int = 256) -> None:
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}
        self._aborts = Throttle(10.0)

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30.0)
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # the gateway never keeps upstream cookies
                auto_decompress=False,
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                requote_redirect_url=False,
            )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _timeout(self, seconds: float) -> aiohttp.ClientTimeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            limit = seconds if seconds > 0 else None
            timeout = aiohttp.ClientTimeout(total=None, connect=limit, sock_read=limit)
            self._timeouts[seconds] = timeout
        return timeout

    async def forward(self, req: ProxyRequest, receive: Receive, send: Send) -> int:
        session = self._session
        if session is None:
            raise RuntimeError("AiohttpUpstream.start() was not awaited")
        body = _RequestBody(receive) if req.has_body else None
        try:
            resp = await session.request(
                req.method,
                URL(req.url, encoded=True),  # encoded: keep the client's raw path (%2F) untouched
                headers=req.headers,
                data=body.chunks() if body is not None else None,
                allow_redirects=False,
                timeout=self._timeout(req.timeout),
                ssl=True if req.ssl is None else req.ssl,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _upstream_error(exc, body) from exc
        try:
            status = resp.status
            headers, length = client_response_headers(resp.raw_headers, req.extra_response_headers)
            if length is not None and length <= SMALL_BODY:
                try:
                    content = await resp.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise _upstream_error(exc, body) from exc
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})
                return status
            await send({"type": "http.response.start", "status": status, "headers": headers})
            if await self._stream(resp, receive, send, body):
                await send({"type": "http.response.body", "body": b""})
            return status
        finally:
            resp.release()  # back to the pool, or closed when the body was not read to the end

    async def _stream(
        self, resp: aiohttp.ClientResponse, receive: Receive, send: Send, body: _RequestBody | None
    ) -> bool:
        """Copy the upstream body to the client; False when the stream must end without completing."""
        watcher: asyncio.Task[None] | None = None
        sent = 0
        try:
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                if watcher is not None:
                    if watcher.done():
                        return False  # the client left: stop pulling from the upstream
                    continue
                sent += len(chunk)
                # Only a large response pays for watching; `receive` is free once the body was read.
                if sent > WATCH_AFTER and (body is None or body.done):
                    watcher = asyncio.create_task(wait_disconnect(receive))
        except (aiohttp.ClientError, TimeoutError) as exc:
            if self._aborts.allow(resp.url.host or ""):
                log.warning("upstream %s failed mid-response: %r", resp.url.host, exc)
            return False
        finally:
            if watcher is not None:
                watcher.cancel()
        return True
