"""The Prometheus families of one gateway process and the text a scrape returns.

Owns the names and labels: OpenTelemetry's HTTP semantic names mapped to Prometheus for requests,
`tyk_gateway_*` for the rest; labels are bounded (an API id, a method class, a status, a reason, an event
name), never a key or a raw path. It must not read the gateway's parts: app/metered.py passes `Readings`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.observe.tally import TallyHistogram

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()
# prometheus-client's multiprocess mode: --workers sets this folder before forking (app/workers.py).
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"
# OpenTelemetry's known HTTP methods; any other is "_OTHER", so a client cannot grow the label set.
METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
# OpenTelemetry's advised boundaries for http.server.request.duration, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def method_class(method: str) -> str:
    return method if method in METHODS else "_OTHER"


@dataclass(slots=True)
class Readings:
    """What the gateway holds at scrape time (read then, never counted per request)."""

    queue_depth: int = 0  # events waiting for a bus worker
    outbox_backlog: int = 0  # webhook deliveries written and not yet done
    outbox_oldest_age: float = 0.0  # seconds since the oldest of them was added; 0 with none
    store_latency: float | None = None  # seconds one PING to the store took at scrape; None: no answer
    hosts_down: int = 0  # upstream hosts the uptime checker marks down
    breakers_open: Mapping[str, int] = field(default_factory=dict)  # api_id -> breakers tripped
    events: Mapping[str, int] = field(default_factory=dict)  # event name -> handler runs queued
    deliveries: Mapping[str, int] = field(default_factory=dict)  # outcome -> webhook deliveries
    attempts: Mapping[str, int] = field(default_factory=dict)  # result -> webhook attempts


class Metrics:
    """The registry (one per gateway, never the global one) and its families."""

    def __init__(self) -> None:
        # With several workers each writes its counts to files in the shared folder and a scrape merges
        # them. The folder may be set after the library was imported (it picks its value class then).
        self.shared = os.environ.get(SHARED_DIR) or None
        if self.shared is not None and values.ValueClass is values.MutexValue:
            values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry(auto_describe=True)
        # One process: plain tallies (no lock per observation); several: the library's shared histograms.
        histogram = Histogram if self.shared is not None else _tally
        self.duration = histogram(
            "http_server_request_duration_seconds",
            "Requests to APIs: time from routing to the last byte sent, by API, method and status.",
            ("api_id", "http_request_method", "http_response_status_code"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.upstream = histogram(
            "http_client_request_duration_seconds",
            "Calls to upstreams: time the proxy step took, by API.",
            ("api_id",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rejections = Counter(
            "tyk_gateway_rejections",
            "Requests the middleware chain refused, by API and reason.",
            ("api_id", "reason"),
            registry=self.registry,
        )
        self.readings = Readings()
        self._at_scrape = _AtScrape(self)
        self.registry.register(self._at_scrape)

    def render(self, readings: Readings) -> bytes:
        """The Prometheus text format, with the gauges read from `readings`; with several workers, the
        request families summed over all of them, the rest this worker's."""
        self.readings = readings
        if self.shared is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry(auto_describe=True)
        MultiProcessCollector(merged, path=self.shared)  # type: ignore[no-untyped-call]
        merged.register(self._at_scrape)
        return generate_latest(merged)


def _tally(
    name: str, documentation: str, labelnames: tuple[str, ...], *, buckets: tuple[float, ...], registry: Any
) -> TallyHistogram:
    family = TallyHistogram(name, documentation, labelnames, buckets)
    registry.register(family)
    return family


class _AtScrape:
    """The families read at scrape time from the last `Readings`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes: these names are only made here

    def collect(self) -> Iterator[Metric]:
        r = self._metrics.readings
        yield GaugeMetricFamily(
            "tyk_gateway_event_queue_depth", "Events waiting for a bus worker.", r.queue_depth
        )
        yield GaugeMetricFamily(
            "tyk_gateway_webhook_outbox_backlog",
            "Webhook deliveries in the outbox, not yet done.",
            r.outbox_backlog,
        )
        yield GaugeMetricFamily(
            "tyk_gateway_webhook_outbox_oldest_age_seconds",
            "Seconds since the oldest webhook delivery not yet done was added; 0 when there is none.",
            r.outbox_oldest_age,
        )
        if r.store_latency is not None:  # absent while the store does not answer: no made-up value
            yield GaugeMetricFamily(
                "tyk_gateway_store_roundtrip_seconds",
                "Seconds one PING to the store took, measured at this scrape.",
                r.store_latency,
            )
        yield GaugeMetricFamily(
            "tyk_gateway_upstream_hosts_down", "Upstream hosts marked down.", r.hosts_down
        )
        breakers = GaugeMetricFamily(
            "tyk_gateway_circuit_breakers_open", "Circuit breakers tripped, by API.", labels=("api_id",)
        )
        for api_id, n in sorted(r.breakers_open.items()):
            breakers.add_metric((api_id,), n)
        yield breakers
        events = CounterMetricFamily(
            "tyk_gateway_events", "Events queued for a handler, by event name.", labels=("event",)
        )
        for name, n in sorted(r.events.items()):
            events.add_metric((name,), n)
        yield events
        deliveries = CounterMetricFamily(
            "tyk_gateway_webhook_deliveries", "Webhook deliveries finished, by outcome.", labels=("outcome",)
        )
        for outcome, n in sorted(r.deliveries.items()):
            deliveries.add_metric((outcome,), n)
        yield deliveries
        attempts = CounterMetricFamily(
            "tyk_gateway_webhook_attempts", "Webhook attempts made, by result.", labels=("result",)
        )
        for result, n in sorted(r.attempts.items()):
            attempts.add_metric((result,), n)
        yield attempts
