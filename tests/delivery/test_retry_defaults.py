"""The default retry policy, on the Sender's injected clock, sleep and random draw (nothing slept): a
receiver down for 10 or 50 minutes is still delivered to, and one that never answers is given up at the
hour, by the elapsed budget and not by the attempt count, whatever the jitter drew."""

from __future__ import annotations

import random

import httpx
import pytest

from gateway.config.model import EventsConfig
from gateway.delivery.model import RetryPolicy
from gateway.delivery.sender import Sender
from tests.delivery.conftest import delivery

DEFAULTS = RetryPolicy()
SEEDS = range(200)  # jitter draws per case: each is one delivery's whole schedule


class DownUntil:
    """A receiver answering 503 until `up` seconds after the start of a fake clock, then 200; it records
    when each attempt came."""

    def __init__(self, up: float) -> None:
        self.now = 0.0
        self.up = up
        self.attempts: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.attempts.append(self.now)
        return httpx.Response(200 if self.now >= self.up else 503)


async def run(up: float, seed: int) -> tuple[bool, DownUntil]:
    receiver = DownUntil(up)
    transport = httpx.MockTransport(receiver.answer)  # every failure instant: the fewest seconds per attempt
    async with httpx.AsyncClient(transport=transport) as http:
        rand = random.Random(seed).random
        sender = Sender(http, None, receiver.clock, sleep=receiver.sleep, rand=rand)
        delivered = await sender(delivery(accepted=0.0, retry=DEFAULTS, url="http://receiver.test/hook"))
    return delivered, receiver


def test_the_tyk_conf_defaults_are_the_policy_defaults() -> None:
    assert RetryPolicy.from_config(EventsConfig()) == DEFAULTS
    assert (DEFAULTS.max_elapsed, DEFAULTS.max_delay, DEFAULTS.max_attempts) == (3600, 600, 40)


@pytest.mark.parametrize("minutes", [10, 50])
async def test_a_receiver_down_for_minutes_is_still_delivered_to(minutes: int) -> None:
    for seed in SEEDS:
        delivered, receiver = await run(minutes * 60.0, seed)
        assert delivered, f"seed {seed}: given up after {len(receiver.attempts)} attempts"
        # The first attempt after it came back, at most one capped wait later.
        assert minutes * 60 <= receiver.attempts[-1] <= minutes * 60 + DEFAULTS.max_delay


async def test_retrying_stops_at_the_elapsed_budget_not_the_attempt_count() -> None:
    counts = []
    for seed in SEEDS:
        delivered, receiver = await run(float("inf"), seed)
        assert not delivered
        last = receiver.attempts[-1]
        # No attempt after the hour; the one that gave up was within a capped wait of it.
        assert DEFAULTS.max_elapsed - DEFAULTS.max_delay < last <= DEFAULTS.max_elapsed, seed
        counts.append(len(receiver.attempts))
    assert max(counts) < DEFAULTS.max_attempts  # the count never ended it
    print(f"\nattempts in the hour: {min(counts)}-{max(counts)}, mean {sum(counts) / len(counts):.1f}")
