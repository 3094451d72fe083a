"""`WebhookSpans`: a CLIENT span per webhook attempt, "webhook <event>", linked to the span of the request
that fired the event (the traceparent the delivery carries from the outbox), so a trace viewer goes from
request to event to webhook. Not in Tyk. The Sender (delivery/sender.py) has one only with tracing on;
it sends the span's traceparent with the attempt. It must not touch the delivery itself.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from gateway.delivery.model import Delivery
from gateway.observe.trace import Tracing, headers_for, linked


class AttemptSpan:
    __slots__ = ("_span", "headers")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self.headers = tuple(headers_for(span))

    def end(self, status: int, error: str) -> None:
        if status:
            self._span.set_attribute("http.response.status_code", status)
        if not 200 <= status < 300:
            self._span.set_status(Status(StatusCode.ERROR, error or None))
        self._span.end()


class WebhookSpans:
    __slots__ = ("_tracing",)

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    def start(self, delivery: Delivery, attempt: int) -> AttemptSpan:
        origin = linked(delivery.trace)
        parts = urlsplit(delivery.url)
        span = self._tracing.tracer.start_span(
            f"webhook {delivery.event}",
            # A root of its own: a delivery can outlive its request by an hour of retries, or a restart.
            trace.set_span_in_context(trace.INVALID_SPAN),
            SpanKind.CLIENT,
            {
                "http.request.method": delivery.method,
                "url.full": f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}",
                "tyk.event.type": delivery.event,
                "tyk.api.id": delivery.api_id,
                "tyk.webhook.handler": delivery.handler,
                "tyk.webhook.id": delivery.id,
                "tyk.webhook.attempt": attempt,
            },
            links=[Link(origin)] if origin is not None else None,
        )
        return AttemptSpan(span)
