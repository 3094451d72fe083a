"""The Prometheus families of one gateway process and the text a scrape returns.

Owns the names and labels: OpenTelemetry's HTTP semantic names mapped to Prometheus for requests,
`tyk_gateway_*` for the rest; labels are bounded (an API id, a method class, a status, a reason, an event
name), never a key or a raw path. It must not read the gateway's parts: app/metered.py passes `Readings`.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from gateway.observe.readings import AtScrape, Published, Readings
from gateway.observe.tally import TallyHistogram

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()
# prometheus-client's multiprocess mode: --workers sets this folder before forking (app/workers.py).
SHARED_DIR = "PROMETHEUS_MULTIPROC_DIR"
# OpenTelemetry's known HTTP methods; any other is "_OTHER", so a client cannot grow the label set.
METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"})
# OpenTelemetry's advised boundaries for http.server.request.duration, in seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
# The gateway's own share is tens of microseconds: boundaries from 50 us, where a slow step shows.
GATEWAY_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)


def method_class(method: str) -> str:
    return method if method in METHODS else "_OTHER"


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
        self.gateway = histogram(
            "tyk_gateway_request_gateway_duration_seconds",
            "Proxied requests: the gateway's own time before the upstream call (routing, the chain), by API.",
            ("api_id",),
            buckets=GATEWAY_BUCKETS,
            registry=self.registry,
        )
        self.rejections = Counter(
            "tyk_gateway_rejections",
            "Requests the middleware chain refused, by API and reason.",
            ("api_id", "reason"),
            registry=self.registry,
        )
        self._at_scrape = AtScrape(own=self.shared is None)
        self.registry.register(self._at_scrape)
        # Several workers: each copies its own readings into the shared files (readings.py).
        self.published = Published() if self.shared is not None else None

    @property
    def readings(self) -> Readings:
        """The readings the last scrape rendered."""
        return self._at_scrape.readings

    def render(self, readings: Readings) -> bytes:
        """The Prometheus text format, with the families read from `readings`; with several workers,
        each family summed over all of them (those of the shared store read by this one)."""
        self._at_scrape.readings = readings
        if self.published is not None:
            self.published.publish(readings)
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
