"""`MeasuredRoute`: an APIRoute that observes each request once, at the point its status is known.

Owns the per-request cost of metrics: children are cached per route (labels resolved once per API and
method/status), one histogram observation per request, one more for the upstream call (timed from the
upstream request's making to the response hook, with no wrapper around the call). It is built only
with metrics on (app/metered.py); it must not label by key or path, nor change what the route answers.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from gateway import errors
from gateway.apidef.model import APISpec
from gateway.chain import circuit_breaker, version_check
from gateway.context import RequestContext, Services
from gateway.errors import Reject, UpstreamError
from gateway.observe.metrics import Metrics, method_class
from gateway.routing import APIRoute
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import ProxyRequest, Receive, Scope, Send, Upstream

_STARTED = "gateway.metrics_started"
_UPSTREAM = "gateway.metrics_upstream"
_HANDED_OVER = "gateway.version_base"  # routing's mark on a request a base API handed to a child
_REASONS = {
    errors.AUTH_FIELD_MISSING: "auth",
    errors.ACCESS_DISALLOWED: "auth",
    errors.KEY_INACTIVE: "auth",
    errors.KEY_EXPIRED: "auth",
    errors.RATE_LIMIT_EXCEEDED: "rate",
    errors.API_RATE_LIMIT_EXCEEDED: "rate",
    errors.ORG_RATE_LIMIT_EXCEEDED: "rate",
    errors.QUOTA_EXCEEDED: "quota",
    errors.ORG_QUOTA_EXCEEDED: "quota",
    version_check.FAILURE: "version",
    version_check.NOT_FOUND: "version",
    version_check.DOES_NOT_EXIST: "version",
    version_check.VERSION_EXPIRED: "version",
    version_check.API_EXPIRED: "version",
    circuit_breaker.SERVICE_UNAVAILABLE: "breaker",
}
_BY_STATUS = {401: "auth", 403: "auth", 429: "rate"}


def reason(reject: Reject) -> str:
    """The rejection's reason class, from Tyk's message (its status where the message is not known)."""
    return _REASONS.get(reject.message) or _BY_STATUS.get(reject.status, "other")


class _Done:
    """The last response hook: the proxied request's status and total time."""

    __slots__ = ("_route",)

    def __init__(self, route: MeasuredRoute) -> None:
        self._route = route

    def on_response(self, ctx: RequestContext, status: int | None) -> None:
        scope = ctx.scope
        upstream = scope[_UPSTREAM]
        self._route.gateway_time.observe(upstream - scope[_STARTED])
        self._route.upstream_time.observe(perf_counter() - upstream)
        if status is not None:  # None: abandoned (the app answers 500, counted by the route)
            self._route.observe(scope, status)

    def close(self) -> None:
        pass


class MeasuredRoute(APIRoute):
    __slots__ = ("_metrics", "_seen", "_why", "gateway_time", "upstream_time")

    def __init__(
        self, spec: APISpec, services: Services, upstream: Upstream, down: DownHosts, metrics: Metrics
    ) -> None:
        super().__init__(spec, services, upstream, down)
        self.upstream_time = metrics.upstream.labels(spec.api_id)
        self.gateway_time = metrics.gateway.labels(spec.api_id)
        self._metrics = metrics
        self._seen: dict[tuple[str, int], Any] = {}  # (method, status) -> the histogram's child
        self._why: dict[str, Any] = {}  # reason -> the rejection counter's child
        self.after = (*self.after, _Done(self))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Reject | None:
        scope[_STARTED] = perf_counter()
        try:
            reject = await APIRoute.__call__(self, scope, receive, send)
        except UpstreamError:
            raise  # the proxy step's: its status went to the response hook
        except Exception:
            self.observe(scope, 500)
            raise
        if reject is not None and _HANDED_OVER not in scope:  # a child's refusal is counted by its base
            self.observe(scope, reject.status)
            why = reason(reject)
            counter = self._why.get(why)
            if counter is None:
                counter = self._why[why] = self._metrics.rejections.labels(self.spec.api_id, why)
            counter.inc()
        return reject

    def _request(self, ctx: RequestContext, target: str) -> ProxyRequest:
        # Made just before the upstream call: the upstream's time runs from here to the response hook.
        ctx.scope[_UPSTREAM] = perf_counter()
        return APIRoute._request(self, ctx, target)

    def observe(self, scope: Scope, status: int) -> None:
        key = (method_class(scope["method"]), status)  # a client's made-up method is "_OTHER"
        child = self._seen.get(key)
        if child is None:
            labels = (self.spec.api_id, key[0], str(status))
            child = self._seen[key] = self._metrics.duration.labels(*labels)
        child.observe(perf_counter() - scope[_STARTED])
