"""`Tracing`: the OpenTelemetry SDK as tyk.conf `opentelemetry` sets it up: a TracerProvider of its own
(never the process-global one), the sampler, service.name, and the OTLP exporter behind a bounded queue.

Spans leave from the SDK's export thread, never from a request (observe/export.py: a full queue drops
and counts, a failing collector pauses the export). Imported only when tracing is on (app/traced.py);
it must not be imported by anything the gateway loads with tracing off.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from gateway import __version__
from gateway.config.telemetry import OpenTelemetryConfig, endpoint_url, with_defaults
from gateway.log import get_logger
from gateway.observe.export import CountedBatch, Paused

log = get_logger("traces")

PROPAGATOR = TraceContextTextMapPropagator()
_CARRIED = (b"traceparent", b"tracestate")
# With `span_processor_type` "simple" Tyk exports each span as it ends; here that is a batch of one sent
# at once, still from the export thread, so a slow collector never holds a request.
_SIMPLE_DELAY_MS = 1


class Tracing:
    def __init__(self, config: OpenTelemetryConfig) -> None:
        cfg = with_defaults(config)
        self.config = cfg
        self.provider = TracerProvider(
            sampler=_sampler(cfg),
            resource=Resource.create({"service.name": cfg.resource_name, "service.version": __version__}),
            shutdown_on_exit=False,  # close() bounds the wait; an exit hook could hang on a dead collector
        )
        simple = cfg.span_processor_type == "simple"
        self.exporter = Paused(_exporter(cfg))
        self.processor = CountedBatch(
            self.exporter,
            cfg.batch_queue_size,
            _SIMPLE_DELAY_MS if simple else cfg.batch_timeout,
            1 if simple else cfg.batch_size,
            cfg.batch_export_timeout,
        )
        self.provider.add_span_processor(self.processor)
        self.tracer = self.provider.get_tracer("tyk-mini-gateway", __version__)

    @property
    def dropped(self) -> int:
        """Spans lost since start: to a full export queue, or to a collector that failed."""
        return self.processor.dropped + self.exporter.dropped

    def close(self, timeout: float) -> None:
        """Export what is queued and stop, waiting at most `timeout` seconds (a collector that is down
        must not hold the gateway's stop): the export thread is a daemon and is left behind after that."""
        stopper = threading.Thread(target=self.provider.shutdown, name="otel-shutdown", daemon=True)
        stopper.start()
        stopper.join(timeout)
        if stopper.is_alive():
            log.warning("traces: the collector did not take the last spans within %g s", timeout)
        if self.dropped:
            log.warning(
                "traces: %d spans were dropped (export queue full, or the collector failing)", self.dropped
            )


def incoming(headers: Iterable[tuple[bytes, bytes]]) -> Context | None:
    """The parent a client's traceparent (and tracestate) names; None when it sent none."""
    carrier: dict[str, str] = {}
    for name, value in headers:
        if name in _CARRIED:
            carrier[name.decode()] = value.decode("latin-1")
    if "traceparent" not in carrier:
        return None
    return PROPAGATOR.extract(carrier)


def linked(traceparent: str) -> trace.SpanContext | None:
    """The span a stored traceparent names (an event's originating request), if it is valid."""
    if not traceparent:
        return None
    context = trace.get_current_span(PROPAGATOR.extract({"traceparent": traceparent})).get_span_context()
    return context if context.is_valid else None


def traceparent(span: trace.Span) -> str:
    """The W3C traceparent naming `span` (written here: the propagator's inject costs twice as much)."""
    c = span.get_span_context()
    return f"00-{c.trace_id:032x}-{c.span_id:016x}-{c.trace_flags:02x}"


def headers_for(span: trace.Span) -> list[tuple[str, str]]:
    """traceparent, and tracestate when the trace carries one, for an outgoing request."""
    state = span.get_span_context().trace_state
    parent = ("traceparent", traceparent(span))
    return [parent, ("tracestate", state.to_header())] if state else [parent]


def _sampler(cfg: OpenTelemetryConfig) -> Sampler:
    kind = cfg.sampling.type
    root: Sampler = (
        ALWAYS_OFF
        if kind == "AlwaysOff"
        else TraceIdRatioBased(cfg.sampling.rate)
        if kind != "AlwaysOn"
        else ALWAYS_ON
    )
    return ParentBased(root) if cfg.sampling.parent_based else root


def _exporter(cfg: OpenTelemetryConfig) -> SpanExporter:
    headers = {str(k): str(v) for k, v in cfg.headers.items()}
    if cfg.exporter == "http":
        return OTLPSpanExporter(endpoint_url(cfg.endpoint), headers=headers, timeout=cfg.connection_timeout)
    # "grpc": config/telemetry.py refused it at load unless its package is installed (not in the extra).
    grpc: Any = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    exporter: SpanExporter = grpc.OTLPSpanExporter(
        endpoint=cfg.endpoint, insecure=True, headers=headers, timeout=cfg.connection_timeout
    )
    return exporter
