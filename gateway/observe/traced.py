"""`TracedRoute`: an APIRoute that makes a SERVER span per request, an INTERNAL child per middleware step
and a CLIENT child for the upstream call, and sends the upstream a traceparent naming that call.

Built only with tracing on (app/traced.py makes the class, over MeasuredRoute when metrics are on too);
with it off no route is one of these and no request does any work for traces. It must not change what
a route answers: spans only watch, and a client's own traceparent is replaced, never forwarded as sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from gateway.chain import Middleware
from gateway.context import EVENT_TRACES, TRACEPARENT, RequestContext
from gateway.errors import Reject, UpstreamError
from gateway.observe.trace import Tracing, headers_for, incoming, traceparent
from gateway.routing import APIRoute
from gateway.upstream.proxy import ProxyRequest, Receive, Scope, Send

_SPAN = "gateway.trace_span"  # the request's SERVER span
_PARENT = "gateway.trace_context"  # a context holding it: the parent of the steps' and the upstream's spans
_CLIENT = "gateway.trace_client"  # the upstream call's span, ended by the response hook
_STATUS = "gateway.trace_status"  # [status]: a box a child version's copy of the scope shares
_HANDED_OVER = "gateway.version_base"  # routing's mark: a child version runs under its base's span
_OUTGOING = frozenset({"traceparent", "tracestate"})
# Tyk's span names for the middleware it has (its Go types); the others are named by their class.
_TYK_NAMES = {
    "VersionCheck": "VersionCheck",
    "CertificateCheck": "CertificateCheckMW",
    "OrgLimits": "OrganizationMonitor",
    "BasicAuth": "BasicAuthKeyIsValid",
    "HMACAuth": "HTTPSignatureValidationMiddleware",
    "JWTAuth": "JWTMiddleware",
    "AuthToken": "AuthKey",
    "KeyExpiry": "KeyExpired",
    "AccessRights": "AccessRightsCheck",
    "KeyRateLimit": "RateLimitAndQuotaCheck",
    "KeyQuota": "RateLimitAndQuotaCheck",
    "APIRateLimit": "RateLimitForAPI",
    "UpstreamOAuth": "UpstreamOAuth",
}


def step_name(step: Middleware) -> str:
    name = type(step).__name__
    return _TYK_NAMES.get(name, name)


class _UpstreamDone:
    """The last response hook: the upstream call's span ends with the status sent to the client."""

    __slots__ = ()

    def on_response(self, ctx: RequestContext, status: int | None) -> None:
        span = ctx.scope.pop(_CLIENT, None)
        if span is None:
            return
        ctx.scope[_STATUS][0] = 500 if status is None else status
        if status is None:  # abandoned: the client left or the call was cancelled
            span.set_status(Status(StatusCode.ERROR, "abandoned"))
        else:
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()

    def close(self) -> None:
        pass


class TracedRoute(APIRoute):
    __slots__ = ()  # so that it can sit on MeasuredRoute too; its state is the class's and the scope's
    tracing: ClassVar[Tracing]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.after = (*self.after, _UpstreamDone())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> Reject | None:
        if _HANDED_OVER in scope:  # a base API handed it over: its span is already this request's
            return await super().__call__(scope, receive, send)
        spec = self.spec
        span = self.tracing.tracer.start_span(
            spec.name or f"{scope['method']} {spec.listen_path}",
            incoming(scope["headers"]),
            SpanKind.SERVER,
            {
                "http.request.method": scope["method"],
                "url.path": scope["path"],
                "http.route": spec.listen_path,
                "tyk.api.id": spec.api_id,
                "tyk.api.name": spec.name,
                "tyk.api.orgid": spec.org_id,
            },
        )
        scope[_SPAN] = span
        scope[_PARENT] = trace.set_span_in_context(span)
        scope[TRACEPARENT] = traceparent(span)
        box = scope[_STATUS] = [503]  # left as is only by the plain 503 of a balancer with every host down
        status, reject_or_error = 500, None  # what set the span's error status, if anything did
        try:
            reject = await super().__call__(scope, receive, send)
            status = box[0] if reject is None else reject.status
            if reject is not None:
                reject_or_error = reject.message
                span.set_status(Status(StatusCode.ERROR, reject.message))
            return reject
        except UpstreamError as exc:
            status, reject_or_error = exc.status, exc.message
            span.set_status(Status(StatusCode.ERROR, exc.message))
            raise
        except BaseException as exc:
            reject_or_error = type(exc).__name__
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, reject_or_error))
            raise
        finally:
            span.set_attribute("http.response.status_code", status)
            if status >= 500 and reject_or_error is None:
                span.set_status(Status(StatusCode.ERROR))
            span.end()

    async def run(self, steps: tuple[Middleware, ...], ctx: RequestContext) -> None:
        """The chain, each step in a span of its own under the request's."""
        tracer, parent = self.tracing.tracer, ctx.scope[_PARENT]
        ctx.scope[_SPAN].set_attribute("tyk.request.id", ctx.request_id)
        for step in steps:
            span = tracer.start_span(step_name(step), parent, SpanKind.INTERNAL)
            fired = len(ctx.pending)
            try:
                await step.on_request(ctx)
            except Reject as exc:
                span.set_attribute("http.response.status_code", exc.status)
                span.set_status(Status(StatusCode.ERROR, exc.message))
                raise
            finally:
                if len(ctx.pending) > fired:
                    self._event_spans(ctx, span, fired)
                span.end()

    def _event_spans(self, ctx: RequestContext, step: trace.Span, fired: int) -> None:
        """A span per event the step fired, under the step's: its webhooks link to it (the event's
        traceparent travels with it), so a trace goes request, step, event, then webhook."""
        traces: list[str] = ctx.scope.setdefault(EVENT_TRACES, [])
        traces.extend([""] * (fired - len(traces)))  # events fired outside a step keep the request's
        under = trace.set_span_in_context(step)
        for event, _ in ctx.pending[fired:]:
            span = self.tracing.tracer.start_span(
                f"event {event}", under, SpanKind.INTERNAL, {"tyk.event.type": str(event)}
            )
            span.end()
            traces.append(traceparent(span))

    def _request(self, ctx: RequestContext, target: str) -> ProxyRequest:
        request = super()._request(ctx, target)
        scope = ctx.scope
        span = self.tracing.tracer.start_span(
            request.method,
            scope[_PARENT],
            SpanKind.CLIENT,
            {"http.request.method": request.method, "url.full": request.url.split("?", 1)[0]},
        )
        scope[_CLIENT] = span
        request.headers[:] = [h for h in request.headers if h[0].lower() not in _OUTGOING]
        request.headers.extend(headers_for(span))
        return request
