"""`hit_and_count`, the key rate limit and quota in one store step, on both backends: a blocked hit
records nothing and counts nothing, the window is the one the `limits` limiter reads, and concurrent
hits admit exactly the limit."""

from __future__ import annotations

import asyncio

from gateway.store.limiter import Limiter
from tests.store import test_store
from tests.store.test_store import Timed

timed = test_store.timed  # the shared fixture, used here under its own name


async def test_admitted_hits_count_the_quota_and_a_blocked_one_counts_nothing(timed: Timed) -> None:
    store = timed.store
    limiter = Limiter(store.rate_limit_storage())
    window, amount, expiry = limiter.window("rate-limit-k", 2, 60)
    assert (amount, expiry) == (2, 60)
    first = await store.hit_and_count(window, amount, expiry, "quota-k", 3600)
    second = await store.hit_and_count(window, amount, expiry, "quota-k", 3600)
    assert first[:2] == (True, 1) and 3599 < first[2] <= 3600
    assert second[:2] == (True, 2)
    assert await store.hit_and_count(window, amount, expiry, "quota-k", 3600) == (False, 0, 0.0)
    assert await store.get("quota-k") == "2"
    # The limiter's own calls see the same window: it is full, and its count is the two admitted.
    assert await limiter.count("rate-limit-k", 2, 60) == 2
    assert await limiter.hit("rate-limit-k", 2, 60) is False


async def test_no_quota_period_counts_for_ever(timed: Timed) -> None:
    store = timed.store
    window, amount, expiry = Limiter(store.rate_limit_storage()).window("rate-limit-k", 5, 1)
    assert await store.hit_and_count(window, amount, expiry, "quota-k", 0) == (True, 1, 0.0)
    assert await store.hit_and_count(window, amount, expiry, "quota-k", -1) == (True, 2, 0.0)


async def test_concurrent_hits_admit_exactly_the_limit(timed: Timed) -> None:
    store = timed.store
    window, amount, expiry = Limiter(store.rate_limit_storage()).window("rate-limit-k", 5, 60)
    results = await asyncio.gather(
        *(store.hit_and_count(window, amount, expiry, "quota-k", 3600) for _ in range(20))
    )
    admitted = [count for ok, count, _ in results if ok]
    assert sorted(admitted) == [1, 2, 3, 4, 5]
    assert await store.get("quota-k") == "5"
