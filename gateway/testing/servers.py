"""Real servers for tests: `serve(app)` runs any ASGI app under uvicorn on a free loopback port in
the current event loop; `echo_app` is an upstream that says what it received; `StallingApp` is one
that never answers until released. They see only HTTP: nothing here knows gateway internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import socket
from collections.abc import Awaitable, Callable, Generator, Iterator
from ssl import SSLContext
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

import uvicorn

from gateway.certs.tls import TLSProtocol
from gateway.upstream.proxy import Receive, Scope, Send

# Any ASGI callable, however its author typed scope and messages (dict, MutableMapping, TypedDicts).
ASGIApp = Callable[..., Awaitable[None]]

STREAM_CHUNK = 64 * 1024
# The bytes `?size=N` streams: this pattern repeated, so a client can check what it got.
PATTERN = b"0123456789abcdef"
_CHUNK = PATTERN * (STREAM_CHUNK // len(PATTERN))


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The test runner owns SIGINT/SIGTERM; an embedded server must not take them over.
        yield


class Served:
    """A running server: `.url`, `.port`, and `await .close()` (or use it as an async context)."""

    __slots__ = ("_server", "_task", "host", "port", "scheme")

    def __init__(
        self, server: uvicorn.Server, task: asyncio.Task[None], host: str, port: int, scheme: str = "http"
    ) -> None:
        self._server = server
        self._task = task
        self.host = host
        self.port = port
        self.scheme = scheme

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, let open requests finish (for at most `grace` seconds), then shut down."""
        if self._task.done():
            await self._task
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace)
        except TimeoutError:
            self._server.force_exit = True
            await self._task

    async def __aenter__(self) -> Served:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


class serve:  # lower-case: used like a function, `await serve(app)` or `async with serve(app) as s`
    """Serve `app` on `host` (a free port unless `port` is given) until closed.

    `await serve(app)` returns a running `Served` once it accepts connections; `async with serve(app)
    as served:` also closes it at the end. Runs like the gateway is run: no access log, no
    `server`/`date` headers of its own, and the client address taken from the socket, not from
    X-Forwarded-For. With `ssl` (a server SSLContext) it serves HTTPS and puts the client certificate
    into the scope as the ASGI TLS extension (`gateway.certs.tls.TLSProtocol`). `protocol` is uvicorn's
    protocol class in their place (the gateway's: its listener limits, `gateway.app.listener`).
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        *,
        port: int = 0,
        lifespan: Literal["auto", "on", "off"] = "auto",
        startup_timeout: float = 10.0,
        ssl: SSLContext | None = None,
        protocol: type[asyncio.Protocol] | None = None,
    ) -> None:
        self._args = (app, host, port, lifespan, startup_timeout, ssl, protocol)
        self._served: Served | None = None

    def __await__(self) -> Generator[Any, None, Served]:
        return _start(*self._args).__await__()

    async def __aenter__(self) -> Served:
        self._served = await _start(*self._args)
        return self._served

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._served is not None:
            await self._served.close()


async def _start(
    app: ASGIApp,
    host: str,
    port: int,
    lifespan: Literal["auto", "on", "off"],
    startup_timeout: float,
    ssl: SSLContext | None,
    protocol: type[asyncio.Protocol] | None,
) -> Served:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    if port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan=lifespan,
        ws="none",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # scope["client"] is the real peer, never a forwarded header's claim
        timeout_graceful_shutdown=5,
        http=protocol or ("auto" if ssl is None else TLSProtocol),
        ssl_context_factory=None if ssl is None else (lambda _config, _default: ssl),
    )
    server = _Server(config)

    async def run() -> None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit as exc:  # uvicorn exits on a failed startup; a test must see an error
            raise RuntimeError(f"server for {app!r} failed to start (exit {exc.code})") from None
        finally:
            sock.close()

    task = asyncio.create_task(run())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + startup_timeout
    while not server.started:
        if task.done():
            await task  # raises the startup error
            raise RuntimeError(f"server for {app!r} stopped before it started")
        if loop.time() > deadline:
            server.force_exit = server.should_exit = True
            await task
            raise TimeoutError(f"server for {app!r} did not start within {startup_timeout} s")
        await asyncio.sleep(0.005)
    return Served(server, task, host, port, "http" if ssl is None else "https")


def unused_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (just released by the OS): connecting to it is refused."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Reply with JSON describing the request, reading its body as a stream (any size).

    Fields: method, path, raw_path, query, headers (list of [name, value], lower-case names, in
    order), body_length, body_sha256, client_cert_id (served with `ssl`: the SHA-256 of the client's
    certificate, "" without one). Query flags: `status=N` sets the status; `header=Name:Value`
    (repeatable) adds a response header; `size=N` replies with N bytes of `PATTERN` instead of JSON,
    streamed in 64 KiB chunks with a Content-Length, or chunked when `chunked=1` is also given.
    """
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    digest = hashlib.sha256()
    length = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk: bytes = message.get("body", b"")
        digest.update(chunk)
        length += len(chunk)
        if not message.get("more_body", False):
            break
    query = scope.get("query_string", b"").decode("latin-1")
    params = parse_qsl(query, keep_blank_values=True)
    flags = dict(params)
    headers = [_header(value) for key, value in params if key == "header"]
    status = int(flags.get("status", "200"))
    if "size" in flags:
        await _send_pattern(send, status, headers, int(flags["size"]), flags.get("chunked") == "1")
        return
    body = json.dumps(
        {
            "method": scope["method"],
            "path": scope["path"],
            "raw_path": (scope.get("raw_path") or scope["path"].encode()).decode("latin-1"),
            "query": query,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]],
            "body_length": length,
            "body_sha256": digest.hexdigest(),
            "client_cert_id": ((scope.get("extensions") or {}).get("tls") or {}).get("client_cert_id", ""),
        }
    ).encode()
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _header(spec: str) -> tuple[bytes, bytes]:
    name, _, value = spec.partition(":")
    return name.strip().lower().encode(), value.strip().encode()


async def _send_pattern(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], size: int, chunked: bool
) -> None:
    if not chunked:
        headers = [*headers, (b"content-length", str(size).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    left = size
    while left > 0:
        chunk = _CHUNK if left >= len(_CHUNK) else _CHUNK[:left]
        left -= len(chunk)
        await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
    if size == 0:
        await send({"type": "http.response.body", "body": b""})


class StallingApp:
    """An upstream that accepts requests and answers none until `release()` (then 200, empty).

    Release it in teardown so the server can stop; `arrived` counts requests that reached it.
    """

    def __init__(self) -> None:
        self.arrived = 0
        self._released = asyncio.Event()

    def release(self) -> None:
        self._released.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        self.arrived += 1
        await self._released.wait()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})
