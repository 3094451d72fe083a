"""What the gateway holds, read rather than counted per request: `Readings`, the families made from them
at scrape time, and, with --workers, their copy into prometheus-client's multiprocess files.

A worker's own readings (events, deliveries, attempts, queue depth, breakers, hosts down) are published
there every second and before it answers a scrape, so any worker's scrape sums them over all; what the
shared store holds (outbox backlog and age, the store's round trip) is read by the worker answering.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

PUBLISH_EVERY = 1.0  # seconds between a worker's copies into the shared files

# name, help, label: the counters read from the gateway's own tallies.
_COUNTERS = {
    "events": ("tyk_gateway_events", "Events queued for a handler, by event name.", "event"),
    "deliveries": ("tyk_gateway_webhook_deliveries", "Webhook deliveries finished, by outcome.", "outcome"),
    "attempts": ("tyk_gateway_webhook_attempts", "Webhook attempts made, by result.", "result"),
}
_QUEUE = ("tyk_gateway_event_queue_depth", "Events waiting for a bus worker.")
_HOSTS = ("tyk_gateway_upstream_hosts_down", "Upstream hosts marked down.")
_BREAKERS = ("tyk_gateway_circuit_breakers_open", "Circuit breakers tripped, by API.")


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


class AtScrape:
    """The families made from the last `Readings` when a scrape renders; with `own` False (several
    workers) only the shared store's, the rest being in the multiprocess files."""

    def __init__(self, own: bool) -> None:
        self.readings = Readings()
        self._own = own

    def describe(self) -> list[Metric]:
        return []  # nothing to check for clashes: these names are only made here

    def collect(self) -> Iterator[Metric]:
        r = self.readings
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
        if not self._own:
            return
        yield GaugeMetricFamily(*_QUEUE, r.queue_depth)
        yield GaugeMetricFamily(*_HOSTS, r.hosts_down)
        breakers = GaugeMetricFamily(*_BREAKERS, labels=("api_id",))
        for api_id, n in sorted(r.breakers_open.items()):
            breakers.add_metric((api_id,), n)
        yield breakers
        for attr, (name, documentation, label) in _COUNTERS.items():
            family = CounterMetricFamily(name, documentation, labels=(label,))
            for value, n in sorted(getattr(r, attr).items()):
                family.add_metric((value,), n)
            yield family


class Published:
    """One worker's readings in the multiprocess files: counters grow by what was counted since the last
    copy; gauges are this worker's value, summed over the live workers (hosts down: their largest, as
    every worker reads the same markers)."""

    def __init__(self) -> None:
        # registry=None: the files are the registry; a scrape merges them (metrics.py).
        self._counters = {
            attr: Counter(name, documentation, (label,), registry=None)
            for attr, (name, documentation, label) in _COUNTERS.items()
        }
        self._queue = Gauge(*_QUEUE, registry=None, multiprocess_mode="livesum")
        self._hosts = Gauge(*_HOSTS, registry=None, multiprocess_mode="livemax")
        self._breakers = Gauge(*_BREAKERS, ("api_id",), registry=None, multiprocess_mode="livesum")
        self._sent: dict[tuple[str, str], int] = {}

    def publish(self, r: Readings) -> None:
        for attr, counter in self._counters.items():
            counts: Mapping[str, int] = getattr(r, attr)
            for value, n in counts.items():
                grown = n - self._sent.get((attr, value), 0)
                if grown > 0:
                    counter.labels(value).inc(grown)
                    self._sent[attr, value] = n
        self._queue.set(r.queue_depth)
        self._hosts.set(r.hosts_down)
        for api_id, n in r.breakers_open.items():
            self._breakers.labels(api_id).set(n)
