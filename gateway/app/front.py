"""The gateway's raw ASGI entry: a request's dot-segments, then the admin, health and metrics paths, then
the route table, the API's chain and proxy, and Tyk's error body for whatever refused it; the lifespan.

It is the hot path, so it does the least per request: one `in` for dot-segments, two comparisons for the
admin paths, one for metrics and one for the dashboard (each None when off). It builds and owns nothing:
the Gateway (app/gateway.py) sets what it reads and starts and stops what it serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

from gateway.app.metered import Metered
from gateway.app.parts import Parts
from gateway.errors import Reject, UpstreamError, wants_xml
from gateway.log import get_logger
from gateway.routing import RouteTable
from gateway.upstream import paths
from gateway.upstream.proxy import Receive, Scope, Send

log = get_logger("app")

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Front(ABC):
    """What the Gateway serves requests with; the Gateway sets the attributes below and implements
    `parts`, `metered`, `start` and `stop`."""

    _table: RouteTable
    _admin: ASGIApp
    _hello: str
    _metrics_path: str | None
    _dashboard: ASGIApp | None  # tyk.conf `dashboard`: None when off
    _extra_error_headers: list[tuple[bytes, bytes]]

    @property
    @abstractmethod
    def parts(self) -> Parts: ...

    @property
    @abstractmethod
    def metered(self) -> Metered: ...

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            # A dot-segment, raw or percent-encoded, shows as "/." once decoded: one `in` for most requests.
            if "/." in path:
                cleaned = self._without_dots(scope)
                if isinstance(cleaned, Reject):
                    await self._render(scope, send, cleaned)
                    return
                scope, path = cleaned, cleaned["path"]
            if path.startswith("/tyk/") or path == self._hello:
                await self._admin(scope, receive, send)
                return
            if path == self._metrics_path:  # None when metrics are off
                await self.metered.serve(scope, receive, send)
                return
            if self._dashboard is not None and (path == "/dashboard" or path.startswith("/dashboard/")):
                await self._dashboard(scope, receive, send)
                return
            route = self._table.match(_host(scope) if self._table.needs_host else "", path)
            if route is None:
                await self._render(scope, send, Reject(404, "Not Found"))
                return
            try:
                reject = await route(scope, receive, send)
            except UpstreamError as exc:
                reject = Reject(exc.status, exc.message, exc.headers)
            except Exception:
                log.exception("unexpected error on %s %s", scope["method"], path)
                reject = Reject(500, "There was a problem proxying the request")
            if reject is not None:
                await self._render(scope, send, reject)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    def _without_dots(self, scope: Scope) -> Scope | Reject:
        """The request with its dot-segments resolved, routed and forwarded as such; a 400 for one whose
        `..` climbs out of the listen path it was sent under, so that API's upstream never sees it."""
        raw: bytes = scope.get("raw_path") or scope["path"].encode()
        try:
            clean = paths.remove_dot_segments(raw)
        except paths.RefusedPath as exc:
            return Reject(400, exc.message)
        if clean == raw:  # "/.well-known": no dot-segment after all
            return scope
        path = paths.decoded(clean)
        sent_to = self._table.match(_host(scope) if self._table.needs_host else "", scope["path"])
        if sent_to is not None and not sent_to.matches(path):
            return Reject(400, paths.CLIMBS)
        return {**scope, "path": path, "raw_path": clean}

    async def _render(self, scope: Scope, send: Send, reject: Reject) -> None:
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        body, media = self.parts.errors.render(reject.message, wants_xml(content_type))
        headers = [
            (b"content-type", media),
            (b"content-length", str(len(body)).encode()),
            *self._extra_error_headers,
            *reject.headers,
        ]
        await send({"type": "http.response.start", "status": reject.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _host(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"host":
            host = str(value.decode("latin-1")).lower()
            # Drop the port, never part of an IPv6 literal ("[::1]:8080" -> "[::1]", "[::1]" stays).
            head, colon, port = host.rpartition(":")
            return head if colon and port.isdigit() and not head.endswith(":") else host
    return ""
