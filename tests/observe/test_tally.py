"""The one-process histogram (gateway/observe/tally.py) renders what prometheus-client's own histogram
renders for the same observations: every bucket, the count and the sum, per label set."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from gateway.observe.metrics import BUCKETS
from gateway.observe.tally import TallyHistogram


def lines(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    return sorted(line for line in text.splitlines() if line and "_created" not in line)


def test_renders_as_the_librarys_histogram() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    tally = TallyHistogram("req_seconds", "Requests.", ("api_id", "code"), BUCKETS)
    ours.register(tally)
    library = Histogram("req_seconds", "Requests.", ("api_id", "code"), buckets=BUCKETS, registry=theirs)
    rng = random.Random(7)
    values = [*BUCKETS, 0.0, 20.0, *(rng.expovariate(20) for _ in range(500))]  # bounds exactly, and past
    for n, value in enumerate(values):
        labels = ("a", "200") if n % 3 else ("b", "500")
        tally.labels(*labels).observe(value)
        library.labels(*labels).observe(value)
    assert lines(ours) == lines(theirs)
