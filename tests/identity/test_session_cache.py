"""The local session cache on a real Redis, with two SessionStores standing for two gateways: reads are
served in the process, a write through either gateway is seen by the other without waiting for the
entry to expire, a write that bypasses the gateways is seen once it expires, and a read that raced a
change never caches what it read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

import pytest

from gateway.config.model import StorageConfig, from_dict
from gateway.identity.cache import MISS, SessionCache, for_store
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore
from gateway.testing import eventually
from tests.conftest import RedisServer


class CountingRedis(RedisStore):
    reads = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)


Gateways = tuple[tuple[SessionStore, CountingRedis], tuple[SessionStore, CountingRedis]]


@pytest.fixture
async def gateways(redis_flush: RedisServer) -> AsyncIterator[Gateways]:
    made: list[tuple[SessionStore, CountingRedis]] = []
    for _ in range(2):
        store = CountingRedis(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
        cache = SessionCache(store, ttl=1.5)
        cache.start()
        made.append(
            (SessionStore(store, hash_keys=True, hash_function="", min_token_length=3, cache=cache), store)
        )
    for sessions, _ in made:
        cache = sessions.cache
        assert cache is not None

        await eventually(lambda c=cache: c.live, "the subscription")
    try:
        yield made[0], made[1]
    finally:
        for sessions, store in made:
            assert sessions.cache is not None
            await sessions.cache.stop()
            await store.close()


async def heard(sessions: SessionStore, write: Awaitable[None]) -> None:
    """Run a write through another gateway and wait until `sessions` has heard about it."""
    cache = sessions.cache
    assert cache is not None
    before = cache.generation
    await write

    await eventually(lambda: cache.generation > before, "the change to be heard", timeout=1.0)


def session(rate: int) -> Session:
    return Session.from_json({"org_id": "o1", "rate": rate, "per": 60}, "test")


async def rate_seen(sessions: SessionStore, key: str) -> Any:
    found = await sessions.get(key)
    return None if found is None else found.rate


async def test_reads_are_local_and_a_write_anywhere_is_seen_everywhere(gateways: Gateways) -> None:
    (one, one_store), (two, _) = gateways
    await heard(one, two.save("key-1234", session(5)))
    assert await rate_seen(one, "key-1234") == 5
    reads = one_store.reads
    for _ in range(10):
        assert await rate_seen(one, "key-1234") == 5
    assert one_store.reads == reads  # served from the cache
    await two.save("key-1234", session(7))  # through the other gateway: published, so no TTL wait

    async def updated() -> bool:
        return await rate_seen(one, "key-1234") == 7

    await eventually(updated, timeout=1.0)  # well inside the 1.5 s entry lifetime
    await two.delete("key-1234")

    async def gone() -> bool:
        return await rate_seen(one, "key-1234") is None

    await eventually(gone, timeout=1.0)


async def test_an_absent_key_is_cached_until_it_is_created(gateways: Gateways) -> None:
    (one, one_store), (two, _) = gateways
    await heard(one, two.save("other-key", session(1)))  # both subscribed and talking
    assert await one.get("new-key-1") is None
    reads = one_store.reads
    assert await one.get("new-key-1") is None
    assert one_store.reads == reads
    await two.save("new-key-1", session(3))

    async def created() -> bool:
        return await rate_seen(one, "new-key-1") == 3

    await eventually(created, timeout=1.0)


async def test_a_write_that_bypasses_the_gateways_is_seen_when_the_entry_expires(gateways: Gateways) -> None:
    (one, one_store), _ = gateways
    await one.save("key-5678", session(5))
    assert await rate_seen(one, "key-5678") == 5
    raw = one.storage_key("key-5678")
    await one_store.set(raw, '{"org_id": "o1", "rate": 9, "per": 60}')  # straight into Redis

    async def expired() -> bool:
        return await rate_seen(one, "key-5678") == 9

    await eventually(expired, timeout=5.0)


async def test_a_read_that_raced_a_change_is_not_cached(redis_flush: RedisServer) -> None:
    store = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    cache = SessionCache(store, ttl=60)
    cache.live = True  # as when subscribed; the listener itself is tested above
    before = cache.generation
    cache._heard('["apikey-x"]')  # a change arrived while the read was on the wire
    cache.put("apikey-x", "old text", before)
    assert cache.lookup("apikey-x") is MISS
    cache.put("apikey-x", "new text", cache.generation)
    assert cache.lookup("apikey-x") == "new text"
    cache._heard("not json")  # a message it cannot read drops everything
    assert cache.lookup("apikey-x") is MISS
    await store.close()


async def test_only_a_store_that_can_publish_gets_a_cache(tmp_path: Any, redis_flush: RedisServer) -> None:
    redis = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    embedded = MemoryStore(tmp_path / "store")
    assert isinstance(for_store(from_dict({}), redis), SessionCache)
    off = from_dict({"local_session_cache": {"disable_cached_session_state": True}})
    assert for_store(off, redis) is None
    assert for_store(from_dict({}), embedded) is None
    await redis.close()
    await embedded.close()
