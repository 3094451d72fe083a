"""RouteTable: (host, listen path) -> the API's handler; immutable, built at load, swapped on reload.

Matching is Tyk's: the longest listen path that prefixes the request path wins, host-specific APIs
before any-host ones. Lookups index listen paths by their first segment, so the cost does not grow
with the number of APIs. `APIRoute` runs one API's chain and proxy, and is where an upstream failure
from either upstream client is logged (throttled per target host); what it keeps between requests
(breakers, the balancer's turn, an org session cache) lives in its middleware and goes with it on reload.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterable, Mapping
from urllib.parse import unquote_to_bytes, urlsplit

from gateway import chain, errors
from gateway.apidef.model import APISpec
from gateway.chain.version_check import Selector
from gateway.context import RequestContext, Services
from gateway.errors import Reject, UpstreamError
from gateway.log import Throttle, get_logger
from gateway.upstream import balancer
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import ProxyRequest, Receive, Scope, Send, Upstream, target_url, upstream_headers

log = get_logger("proxy")

# Marks a request a base API handed to a child version, so that it is never handed on again (no loops).
_HANDED_OVER = "gateway.version_base"
# Tyk's default `quotas` headers for APIs without a session (keyless): all zero.
_ZERO_QUOTA = ((b"x-ratelimit-limit", b"0"), (b"x-ratelimit-remaining", b"0"), (b"x-ratelimit-reset", b"0"))
# An outage fails every request: one line per API and target host per interval says so, with a count.
FAILURE_LOG_INTERVAL = 30.0


class APIRoute:
    __slots__ = (
        "after",
        "balancer",
        "base",
        "chain",
        "domain",
        "failures",
        "prefix",
        "reads_body",
        "services",
        "siblings",
        "spec",
        "upstream",
        "upstream_cert",
    )

    # How the chain is run: a class attribute, so observe/traced.py's route swaps in its traced loop at
    # load, and an untraced request pays one attribute lookup for the choice.
    run = staticmethod(chain.run)

    def __init__(self, spec: APISpec, services: Services, upstream: Upstream, down: DownHosts) -> None:
        self.spec = spec
        self.services = services
        self.upstream = upstream
        self.chain = chain.build(spec, services.config)
        self.after = chain.responders(self.chain)
        self.reads_body = any(getattr(step, "reads_body", False) for step in self.chain)
        self.prefix = spec.listen_path.rstrip("/")
        self.domain = spec.domain.lower()  # host names compare case-insensitively
        # None (the common case) proxies to spec.target_url; a balancer picks among proxy.target_list.
        self.balancer = balancer.build(spec, down) if spec.uptime.targets else None
        # Only an https upstream can be shown a client certificate; the app swaps in the registry first.
        certs = services.certs.get(spec.api_id) if spec.target_url.startswith("https:") else None
        self.upstream_cert = certs if certs is not None and certs.upstream_ssl is not None else None
        self.base = Selector(spec) if spec.versioning.enabled else None  # a base API picks child versions
        self.siblings: Mapping[str, APIRoute] = {}  # every API by id, set by the RouteTable
        self.failures = Throttle(FAILURE_LOG_INTERVAL)  # keyed by the target's host:port

    def matches(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Reject | None:
        """Run the chain and proxy; a rejection is returned (after its events) for the app to render."""
        ctx = RequestContext(self.spec, scope, self.services)
        if self.reads_body:  # usually not: then the body stays the proxy's alone
            ctx.outgoing.receive = receive
        try:
            if self.base is not None and _HANDED_OVER not in scope:
                child = self.base.pick_child(ctx, self.siblings.__contains__)
                if child is not None:
                    return await self.siblings[child](self._child_scope(ctx), receive, send)
            await self.run(self.chain, ctx)
        except Reject as exc:
            await ctx.flush_events(ctx.outgoing.receive or receive)
            return Reject(exc.status, exc.message, (*exc.headers, (b"x-request-id", ctx.request_id.encode())))
        if ctx.pending:
            await ctx.flush_events(None)
        spec = self.spec
        target = spec.target_url if self.balancer is None else self.balancer.pick()
        if target is None:  # load balancing with every target down: Tyk's plain-text 503
            down = (*balancer.ALL_DOWN_HEADERS, (b"x-request-id", ctx.request_id.encode()))
            await send({"type": "http.response.start", "status": 503, "headers": down})
            await send({"type": "http.response.body", "body": balancer.ALL_DOWN_BODY})
            return None
        request = self._request(ctx, target)
        if self.upstream_cert is not None and self.upstream_cert.upstream_use is not None:
            self.services.certs.note((self.upstream_cert.upstream_use,))
        status: int | None = None  # stays None when the proxy step is abandoned (cancelled, crashed)
        try:
            status = await self.upstream.forward(request, ctx.outgoing.receive or receive, send)
        except UpstreamError as exc:  # both upstream clients end here: the one place to log a failure
            status = exc.status
            exc.headers = ((b"x-request-id", ctx.request_id.encode()),)  # on the error the app renders
            self._log_failure(request, exc, ctx.request_id)
            raise
        finally:
            for hook in self.after:  # usually none: an empty loop is all a success costs here
                hook.on_response(ctx, status)
        return None

    def _request(self, ctx: RequestContext, target: str) -> ProxyRequest:
        """The upstream request: the client's, as the chain's `outgoing` changed it."""
        scope, out, spec = ctx.scope, ctx.outgoing, self.spec
        client = scope.get("client")
        headers, has_body = upstream_headers(
            scope["headers"],
            client[0] if client else "",
            preserve_host=spec.preserve_host_header,
            drop=out.drop,
        )
        headers += out.add
        if ctx.request_id_from != 1:  # the client's own X-Request-ID is already among its headers
            headers.append(("x-request-id", ctx.request_id))
        path, query = out.raw_path(scope), out.query_string(scope)
        return ProxyRequest(
            method=scope["method"],
            url=target_url(target, spec.listen_path, spec.strip_listen_path, path, query),
            headers=headers,
            has_body=has_body,
            timeout=self.services.config.proxy_default_timeout,
            extra_response_headers=(*self._response_headers(ctx), (b"x-request-id", ctx.request_id.encode())),
            ssl=None if self.upstream_cert is None else self.upstream_cert.upstream_ssl,
        )

    def _log_failure(self, request: ProxyRequest, exc: UpstreamError, request_id: str) -> None:
        """Name the API, the target and the cause, once per host per interval (the app renders the 500)."""
        if exc.status == 499:  # the client left: nothing is wrong upstream
            return
        parts = urlsplit(request.url)
        host = parts.hostname or "?"
        where = f"[{host}]" if ":" in host else host
        where += f":{parts.port or (443 if parts.scheme == 'https' else 80)}"
        held = self.failures.allow_count(where)
        if held is None:
            return
        more = f" ({held} more since the last line)" if held else ""
        spec = self.spec
        cause = _cause(exc, request.timeout)
        fields = {"api_id": spec.api_id, "target": where, "request_id": request_id}
        log.warning(
            "API %r (%s): upstream %s failed: %s%s", spec.name, spec.api_id, where, cause, more, extra=fields
        )

    def close(self) -> None:
        """Cancel what the chain runs in the background (breaker reset timers): on reload and stop."""
        for hook in self.after:
            hook.close()

    def _child_scope(self, ctx: RequestContext) -> Scope:
        """The request as the child version sees it: version data stripped and, when the base strips
        its listen path, without that either (Tyk's SanitizeProxyPaths)."""
        scope, out = ctx.scope, ctx.outgoing
        raw = out.raw_path(scope)
        prefix = self.prefix.encode()
        if self.spec.strip_listen_path and prefix and (raw == prefix or raw.startswith(prefix + b"/")):
            raw = raw[len(prefix) :] or b"/"
        query = out.query_string(scope)
        headers = [(k, v) for k, v in scope["headers"] if k not in out.drop]
        path = unquote_to_bytes(raw).decode("utf-8", "replace")
        return {
            **scope,
            "path": path,
            "raw_path": raw,
            "query_string": query,
            "headers": headers,
            _HANDED_OVER: self.spec.api_id,
        }

    def _response_headers(self, ctx: RequestContext) -> tuple[tuple[bytes, bytes], ...]:
        out = ctx.outgoing
        expires = ((b"x-tyk-api-expires", out.api_expires),) if out.api_expires is not None else ()
        if self.services.config.rate_limit_response_headers == "rate_limits":
            return out.reply + expires
        session = ctx.session
        if session is None:
            return _ZERO_QUOTA + expires
        limit = session.limit(self.spec.api_id)  # the per-API limit's figures when it has one (Tyk)
        remaining, renews = out.quota_live or (limit.quota_remaining, limit.quota_renews)
        return (
            (b"x-ratelimit-limit", str(limit.quota_max).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", str(renews).encode()),
            *expires,
        )


class RouteTable:
    __slots__ = ("_by_segment", "_catch_all", "needs_host", "routes")

    def __init__(self, routes: Iterable[APIRoute]) -> None:
        self.routes = tuple(routes)
        self.needs_host = any(route.spec.domain for route in self.routes)
        by_segment: dict[str, list[APIRoute]] = {}
        catch_all: list[APIRoute] = []
        for route in self.routes:
            segment = _first_segment(route.prefix)
            (by_segment.setdefault(segment, []) if segment else catch_all).append(route)
        # Longest listen path first; among equals, host-specific before any-host.
        order = lambda r: (-len(r.prefix), not r.spec.domain)  # noqa: E731
        self._by_segment = {k: sorted(v, key=order) for k, v in by_segment.items()}
        self._catch_all = sorted(catch_all, key=order)
        by_id = {route.spec.api_id: route for route in self.routes}
        for route in self.routes:
            route.siblings = by_id

    def close(self) -> None:
        for route in self.routes:
            route.close()

    def match(self, host: str, path: str) -> APIRoute | None:
        for candidates in (self._by_segment.get(_first_segment(path), ()), self._catch_all):
            for route in candidates:
                domain = route.domain
                if (not domain or domain == host) and route.matches(path):
                    return route
        return None


def _cause(exc: UpstreamError, timeout: float) -> str:
    """The failure in words, from the error the upstream client chained to its UpstreamError."""
    if exc.status == 504:
        return f"timed out after {timeout:g} s" if timeout > 0 else "timed out"
    error = exc.__cause__
    # aiohttp's connection errors are OSErrors carrying the socket's errno and text (its TLS ones are
    # ssl errors too), so the standard fields serve both clients.
    if exc.message == errors.UPSTREAM_DNS:
        return f"host lookup failed ({error.strerror if isinstance(error, OSError) else error})"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.strerror or error}"
    if isinstance(error, OSError) and error.errno and error.errno > 0:
        return os.strerror(error.errno).lower()  # asyncio's own text is "Connect call failed (...)"
    return str(error) if error is not None and str(error) else exc.message


def _first_segment(path: str) -> str:
    return path[1:].split("/", 1)[0] if path.startswith("/") else path.split("/", 1)[0]
