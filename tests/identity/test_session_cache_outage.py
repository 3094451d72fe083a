"""The session cache through a store outage, on a real Redis whose reads are made to fail: failing open,
known keys are served as last read for the grace only (never to the REST API), an unknown key fails,
the store answering again empties the cache, and only `store_failure_policy: open` has a grace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.config.model import StorageConfig, from_dict
from gateway.errors import StoreError
from gateway.identity.cache import MISS, SessionCache, for_store
from gateway.identity.sessions import SessionStore
from gateway.store.redis import RedisStore
from tests.conftest import RedisServer
from tests.identity.test_session_cache import session


class BreakableRedis(RedisStore):
    """A real Redis whose reads can be made to fail, as during an outage."""

    down = False

    async def get(self, key: str) -> str | None:
        if self.down:
            raise StoreError("redis: connection refused (test)")
        return await super().get(key)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def outage(redis_flush: RedisServer) -> AsyncIterator[tuple[SessionStore, BreakableRedis, Clock]]:
    store = BreakableRedis(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    clock = Clock()
    cache = SessionCache(store, ttl=1.5, clock=clock, grace=5.0)
    cache._state(True)  # as when subscribed: the listener is not started, so nothing else changes it
    sessions = SessionStore(store, hash_keys=False, hash_function="", min_token_length=3, cache=cache)
    try:
        yield sessions, store, clock
    finally:
        await store.close()


async def served(sessions: SessionStore, key: str) -> Any:
    found = await sessions.find(key, last_known=True)
    return None if found is None else found[1].rate


async def test_an_outage_serves_known_keys_for_the_grace_only(
    outage: tuple[SessionStore, BreakableRedis, Clock],
) -> None:
    sessions, store, clock = outage
    await sessions.save("known-key", session(5))
    assert await served(sessions, "known-key") == 5  # cached
    assert await served(sessions, "absent-key") is None  # cached as absent
    store.down = True
    clock.now += 60  # long past the entry's own lifetime: an outage serves it all the same
    assert await served(sessions, "known-key") == 5
    assert await served(sessions, "absent-key") is None
    with pytest.raises(StoreError):
        await served(sessions, "never-seen")  # unknown: the caller fails per its policy
    with pytest.raises(StoreError):
        await sessions.find("known-key")  # not a request (the REST API): never the last known text
    clock.now += 5.5  # the grace (5 s from the first failure) is spent
    with pytest.raises(StoreError):
        await served(sessions, "known-key")


async def test_the_store_answering_again_forgets_what_the_outage_kept(
    outage: tuple[SessionStore, BreakableRedis, Clock],
) -> None:
    sessions, store, clock = outage
    await sessions.save("gone-key", session(5))
    await sessions.save("kept-key", session(6))
    assert (await served(sessions, "gone-key"), await served(sessions, "kept-key")) == (5, 6)
    store.down = True
    clock.now += 2  # past the entries' lifetime: the next read asks the store, which fails
    assert await served(sessions, "gone-key") == 5
    await RedisStore.delete(store, "apikey-gone-key")  # deleted meanwhile, unheard (another path)
    assert await served(sessions, "kept-key") == 6  # still down: as last read
    store.down = False
    assert await served(sessions, "kept-key") == 6  # read from the store again: the cache is emptied
    assert await served(sessions, "gone-key") is None
    cache = sessions.cache
    assert cache is not None and cache.outage_since is None


async def test_a_lost_subscription_keeps_entries_only_for_an_outage(redis_flush: RedisServer) -> None:
    store = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    for grace, kept in ((5.0, True), (0.0, False)):
        cache = SessionCache(store, ttl=60, grace=grace)
        cache._state(True)
        cache.put("apikey-x", "text", cache.generation)
        cache._state(False)  # unused while down either way; kept only as an outage's fallback
        assert (cache.outage_since is not None) is kept
        try:
            assert cache.last_known("apikey-x", StoreError("down")) == "text"
            assert kept
        except StoreError:
            assert not kept
        cache._state(True)  # subscribed again: drops may have been missed
        assert cache.lookup("apikey-x") is MISS and cache.outage_since is None
    await store.close()


async def test_only_failing_open_has_a_grace(redis_flush: RedisServer) -> None:
    redis = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    for raw, grace in [
        ({}, 0.0),
        ({"store_failure_policy": "open"}, 60.0),
        ({"store_failure_policy": "open", "store_outage_grace": 2.5}, 2.5),
        ({"store_failure_policy": "closed", "store_outage_grace": 30}, 0.0),
    ]:
        cache = for_store(from_dict(raw), redis)
        assert cache is not None and cache.grace == grace, raw
    await redis.close()
