"""`incr_window`, Tyk's quota counter step, on both backends: periods, no-renewal counters, keys left
without a TTL, non-integers, concurrency, and (embedded) counters surviving a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.errors import StoreError
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from tests.store import test_store
from tests.store.test_store import TTL, FakeClock, Timed

timed = test_store.timed  # the shared fixture, used here under its own name


async def test_a_period_counts_then_renews(timed: Timed) -> None:
    store = timed.store
    count, reset = await store.incr_window("quota-k", TTL)
    assert count == 1 and 0 < reset <= TTL + 1e-6
    count, reset = await store.incr_window("quota-k", 3600)  # a running period is never extended
    assert count == 2 and 0 < reset <= TTL + 1e-6
    assert await store.get("quota-k") == "2"
    await timed.elapse(TTL)
    count, reset = await store.incr_window("quota-k", TTL)
    assert count == 1 and 0 < reset <= TTL + 1e-6  # a new period


async def test_no_period_counts_for_ever(timed: Timed) -> None:
    store = timed.store
    assert await store.incr_window("quota-k", 0) == (1, 0)
    assert await store.incr_window("quota-k", -1) == (2, 0)
    await timed.elapse(TTL)
    assert await store.incr_window("quota-k", 0) == (3, 0)


async def test_a_counter_without_ttl_starts_a_period_when_one_is_set(timed: Timed) -> None:
    store = timed.store
    await store.set("quota-k", "41")
    assert await store.incr_window("quota-k", 0) == (42, 0)  # no renewal: keeps counting
    count, reset = await store.incr_window("quota-k", TTL)
    assert count == 1 and 0 < reset <= TTL + 1e-6  # Tyk: missing or no TTL, with a renewal rate -> new period


async def test_a_non_integer_is_a_store_error(store: Store) -> None:
    await store.set("quota-k", "text", 100)
    with pytest.raises(StoreError):
        await store.incr_window("quota-k", 10)
    assert await store.get("quota-k") == "text"


async def test_concurrent_increments_are_counted_once_each(store: Store) -> None:
    results = await asyncio.gather(*(store.incr_window("quota-k", 60) for _ in range(50)))
    assert sorted(count for count, _ in results) == list(range(1, 51))


async def test_embedded_quota_counters_survive_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(tmp_path, clock=clock)
    for _ in range(3):
        await store.incr_window("quota-a", 100)
        await store.incr_window("quota-b", 0)
    await store.close()
    clock.advance(50)
    store = MemoryStore(tmp_path, clock=clock)
    count, reset = await store.incr_window("quota-a", 100)
    assert count == 4 and reset == pytest.approx(50, abs=0.01)  # same period, its deadline kept
    assert await store.incr_window("quota-b", 0) == (4, 0)
    clock.advance(51)
    assert (await store.incr_window("quota-a", 100))[0] == 1  # the period ran out across the restart
    await store.close()


async def test_embedded_counter_steps_reach_the_journal_by_the_end_of_the_loop_turn(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    journal = tmp_path / "store.aof"
    await store.set("key", "v")
    assert '"key"' in journal.read_text()  # any other change: on disk before the call returns
    for _ in range(3):
        await store.incr_window("quota-k", 60)
    await asyncio.sleep(0)  # one loop turn: the three steps are flushed together
    assert journal.read_text().count('"quota-k"') == 3
    await store.close()
