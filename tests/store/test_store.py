"""The Store contract on every backend (embedded and a real redis-server), the rate-limit storage
each one hands to `limits`, Redis failures as StoreError, and the embedded store's journal."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.utils
from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.config.model import StorageConfig
from gateway.errors import ConfigError, StoreError
from gateway.store import memory
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.store.registry import BACKENDS, open_store
from tests.conftest import RedisServer, free_port

TTL = 0.2  # short, so Redis tests wait little; the embedded store's clock is advanced instead
_sentinels = itertools.count()


class FakeClock:
    """Wall seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class Timed:
    """A store plus a way to let time pass for it: a fake clock, or real time on Redis."""

    store: Store
    clock: FakeClock | None

    async def elapse(self, seconds: float) -> None:
        """Return once every TTL of at most `seconds` set before the call has run out."""
        if self.clock is not None:
            self.clock.advance(seconds + 0.001)
            return
        # Redis keeps its own time: a sentinel set now with the same TTL expires after the others.
        sentinel = f"~elapse-{next(_sentinels)}"
        await self.store.set(sentinel, "1", seconds)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds + 5
        while await self.store.get(sentinel) is not None:
            assert loop.time() < deadline, f"Redis kept a {seconds} s key for {seconds + 5} s"
            await asyncio.sleep(0.01)  # bounded poll for Redis to expire the sentinel


@pytest.fixture(params=["embedded", "redis"])
async def timed(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Timed]:
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_flush")
        opened: Store = RedisStore(StorageConfig(type="redis", host=server.host, port=server.port))
        clock = None
    else:
        clock = FakeClock()
        opened = MemoryStore(tmp_path / "store", clock=clock)
    try:
        yield Timed(opened, clock)
    finally:
        await opened.close()


# -- the contract, on both backends -----------------------------------------------------------------


async def test_get_set_delete(store: Store) -> None:
    assert isinstance(store, Store)
    assert await store.get("k") is None
    await store.set("k", "v1")
    await store.set("ключ", "värde ✓")
    assert await store.get("k") == "v1"
    await store.set("k", "v2")
    assert await store.get("k") == "v2"
    assert await store.get("ключ") == "värde ✓"
    assert await store.delete("k") is True
    assert await store.delete("k") is False
    assert await store.get("k") is None
    assert await store.ping() is True


async def test_ttl_expiry(timed: Timed) -> None:
    store = timed.store
    await store.set("t-set", "v", TTL)
    assert await store.set_nx("t-nx", "v", int(TTL * 1000)) is True
    await store.set("t-kept", "v", 60)
    await store.set("t-forever", "v", 0)  # 0 = no expiry, as in Tyk
    assert await store.get("t-set") == "v" and await store.get("t-nx") == "v"
    await timed.elapse(TTL)
    assert await store.get("t-set") is None
    assert await store.get("t-nx") is None
    assert await store.keys("t-") == ["t-forever", "t-kept"]
    assert await store.set_nx("t-nx", "again", 1000) is True  # an expired reservation is free again


async def test_ttl_boundary_on_the_embedded_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(tmp_path, clock=clock)
    await store.set("k", "v", 10)
    clock.advance(9.99)
    assert await store.get("k") == "v"
    clock.advance(0.02)
    assert await store.get("k") is None
    await store.close()


async def test_set_without_ttl_clears_the_ttl(timed: Timed) -> None:
    await timed.store.set("k", "v", TTL)
    await timed.store.set("k", "w")
    await timed.elapse(TTL)
    assert await timed.store.get("k") == "w"


async def test_set_nx_has_exactly_one_winner_among_50(store: Store) -> None:
    results = await asyncio.gather(*(store.set_nx("race", f"task-{i}", 10_000) for i in range(50)))
    assert results.count(True) == 1
    assert await store.get("race") == f"task-{results.index(True)}"
    assert await store.set_nx("race", "late", 10_000) is False


async def test_lease_is_taken_when_free_extended_by_its_owner_and_refused_to_others(timed: Timed) -> None:
    store = timed.store
    ttl = 1.0  # longer than TTL: the renewal must be seen to matter with margin on a busy machine
    ttl_ms = int(ttl * 1000)
    assert await store.lease("leader", "node-a", ttl_ms) is True
    assert await store.lease("leader", "node-b", ttl_ms) is False  # held: refused, unchanged
    assert await store.get("leader") == "node-a"
    await timed.elapse(ttl / 2)
    assert await store.lease("leader", "node-a", ttl_ms) is True  # renewed: a full TTL from now
    await timed.elapse(ttl * 0.6)
    assert await store.get("leader") == "node-a"  # past the first TTL, alive thanks to the renewal
    await timed.elapse(ttl)
    assert await store.get("leader") is None
    assert await store.lease("leader", "node-b", ttl_ms) is True  # expired: free for another owner
    assert await store.get("leader") == "node-b"


async def test_lease_has_exactly_one_winner_among_20(store: Store) -> None:
    results = await asyncio.gather(*(store.lease("race", f"node-{i}", 10_000) for i in range(20)))
    assert results.count(True) == 1
    winner = f"node-{results.index(True)}"
    assert await store.get("race") == winner
    assert await store.lease("race", winner, 10_000) is True


async def test_release_deletes_only_while_the_value_is_still_ours(timed: Timed) -> None:
    store = timed.store
    assert await store.set_nx("webhook.cache.x", "delivery-1", 60_000)
    assert await store.release("webhook.cache.x", "delivery-2") is False  # someone else's: kept
    assert await store.get("webhook.cache.x") == "delivery-1"
    assert await store.release("webhook.cache.x", "delivery-1") is True
    assert await store.get("webhook.cache.x") is None
    assert await store.release("webhook.cache.x", "delivery-1") is False  # already gone
    assert await store.set_nx("short", "mine", int(TTL * 1000))
    await timed.elapse(TTL)
    assert await store.release("short", "mine") is False  # expired: nothing of ours to free


async def test_incr_sets_the_ttl_only_when_it_creates_the_key(timed: Timed) -> None:
    store = timed.store
    assert await store.incr("quota", TTL) == 1
    assert await store.incr("quota", 3600) == 2  # must not extend the window
    assert await store.incr("quota") == 3
    assert await store.get("quota") == "3"
    await timed.elapse(TTL)
    assert await store.get("quota") is None
    assert await store.incr("quota") == 1  # recreated without a TTL
    await timed.elapse(TTL)
    assert await store.get("quota") == "1"


async def test_incr_refuses_a_non_integer(store: Store) -> None:
    for text in ("text", "05", " 5", "1.5"):
        await store.set("k", text)
        with pytest.raises(StoreError):
            await store.incr("k")
        assert await store.get("k") == text
    await store.set("k", "-3")
    assert await store.incr("k") == -2


async def test_keys_by_literal_prefix(store: Store) -> None:
    for key in ("apikey-a", "apikey-b", "apikey", "other", "p[1]*x", "p1x", "pxx"):
        await store.set(key, "v")
    await store.delete("apikey-b")
    assert await store.keys("apikey-") == ["apikey-a"]
    assert await store.keys("p[1]*") == ["p[1]*x"]  # glob characters are not patterns
    assert await store.keys("nothing") == []


async def test_moving_window_lets_exactly_two_through(store: Store) -> None:
    storage = store.rate_limit_storage()
    assert store.rate_limit_storage() is storage  # created once
    limiter = MovingWindowRateLimiter(storage)
    item = RateLimitItemPerSecond(2, 10)
    results = [await limiter.hit(item, "rate-limit-key1") for _ in range(5)]
    assert results == [True, True, False, False, False]
    assert await limiter.hit(item, "rate-limit-key2") is True  # limits are per identity


# -- Redis ------------------------------------------------------------------------------------------


async def test_two_redis_stores_share_one_limit(redis_flush: RedisServer) -> None:
    cfg = StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port)
    stores = [RedisStore(cfg), RedisStore(cfg)]
    limiters = [MovingWindowRateLimiter(s.rate_limit_storage()) for s in stores]
    item = RateLimitItemPerSecond(2, 10)
    results = [await limiters[i % 2].hit(item, "shared") for i in range(6)]
    for s in stores:
        await s.close()
    assert results.count(True) == 2 and results[:2] == [True, True]


async def test_unreachable_redis_raises_store_error() -> None:
    port = free_port()  # nothing listens there
    store = RedisStore(StorageConfig(type="redis", host="127.0.0.1", port=port, timeout=1))
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.get("k"),
        lambda: store.set("k", "v", 1),
        lambda: store.set_nx("k", "v", 100),
        lambda: store.delete("k"),
        lambda: store.keys(""),
        lambda: store.incr("k", 1),
    ]
    for call in calls:
        with pytest.raises(StoreError, match=rf"^redis 127\.0\.0\.1:{port}: .*(refused|connect)"):
            await call()
    assert await store.ping() is False
    await store.close()


def test_redis_uses_hiredis() -> None:
    assert redis.utils.HIREDIS_AVAILABLE


# -- the embedded journal -----------------------------------------------------------------------------


def journal(folder: Path) -> list[str]:
    return (folder / memory.JOURNAL).read_text().splitlines()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def test_embedded_store_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(tmp_path / "new" / "folder", clock=clock)  # created when missing
    await store.set("plain", "1")
    await store.set("long", "2", 100)
    await store.set("short", "3", 1)
    assert await store.set_nx("nx", "4", 100_000) is True
    for _ in range(3):
        await store.incr("count", 100)
    await store.set("gone", "5")
    await store.delete("gone")
    await store.close()
    clock.advance(2)
    store = MemoryStore(tmp_path / "new" / "folder", clock=clock)
    assert await store.keys("") == ["count", "long", "nx", "plain"]
    assert [await store.get(k) for k in ("plain", "long", "nx", "count")] == ["1", "2", "4", "3"]
    assert await store.incr("count", 5) == 4
    clock.advance(98.5)  # the deadline survived the restart as an absolute time
    assert await store.get("count") is None and await store.get("long") is None
    assert await store.get("plain") == "1"
    await store.close()


async def test_deadlines_are_persisted_as_wall_clock_time(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)  # the real clocks: monotonic inside, wall time on disk
    await store.set("k", "v", 100)
    await store.close()
    [line] = journal(tmp_path)
    _number, op, key, value, deadline = json.loads(line)
    assert (op, key, value) == ("set", "k", "v")
    assert abs(deadline - (time.time() + 100)) < 5


async def test_torn_last_line_is_ignored_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore(tmp_path)
    await store.set("a", "1")
    await store.set("b", "2")
    await store.close()
    with (tmp_path / memory.JOURNAL).open("a") as f:
        f.write('["set","c","par')  # a crash mid-write
    with caplog.at_level(logging.WARNING, logger="gateway.store"):
        store = MemoryStore(tmp_path)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "torn last line 3" in messages[0]
    assert await store.keys("") == ["a", "b"]
    await store.close()
    assert [json.loads(line)[1:3] for line in journal(tmp_path)] == [["set", "a"], ["set", "b"]]


async def test_corrupt_line_before_the_last_is_fatal(tmp_path: Path) -> None:
    (tmp_path / memory.JOURNAL).write_text('["set","a","1",null]\n{garbage\n["del","a"]\n')
    with pytest.raises(StoreError, match=r"store\.aof: line 2 is corrupt"):
        MemoryStore(tmp_path)
    (tmp_path / memory.JOURNAL).write_text('["del","a"]\n')
    store = MemoryStore(tmp_path)  # the failed open released its lock
    await store.close()


async def test_journal_is_compacted_on_reopen(tmp_path: Path) -> None:
    clock = FakeClock()
    store = MemoryStore(tmp_path, clock=clock)
    for i in range(100):
        await store.set("k", str(i))
    await store.set("expiring", "x", 1)
    await store.incr("n")
    await store.delete("n")
    await store.close()
    assert len(journal(tmp_path)) == 103
    clock.advance(2)
    store = MemoryStore(tmp_path, clock=clock)
    await store.close()
    assert [json.loads(line)[1:] for line in journal(tmp_path)] == [["set", "k", "99", None]]
    assert names(tmp_path) == [memory.JOURNAL, "store.checkpoint", memory.LOCK]  # no temporary file


async def test_journal_is_compacted_while_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "COMPACT_MIN_LINES", 10)
    store = MemoryStore(tmp_path)
    for i in range(50):
        await store.set("k", str(i))
    assert len(journal(tmp_path)) <= 11
    await store.close()
    store = MemoryStore(tmp_path)
    assert await store.get("k") == "49"
    await store.close()


async def test_a_folder_is_opened_by_one_store_at_a_time(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    with pytest.raises(StoreError, match="already open"):
        MemoryStore(tmp_path)
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        await store.get("k")
    assert await store.ping() is False
    await MemoryStore(tmp_path).close()


# -- the registry -------------------------------------------------------------------------------------


def test_registry_names_both_backends_and_refuses_others() -> None:
    assert sorted(BACKENDS) == ["embedded", "redis"]
    with pytest.raises(ConfigError, match=r"storage\.type.*got .nope."):
        open_store(StorageConfig(type="nope"))
