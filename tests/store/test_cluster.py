"""The Redis store on a three-node Redis Cluster: every operation routed by slot, the scripts' keys in one
slot (a key's rate-limit window tagged into its quota counter's slot), key listing across every node,
pub/sub, and the webhook outbox's stream, group and heartbeat; plus the tagging rule itself, without Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from limits.aio.storage import MemoryStorage
from redis.crc import key_slot

from gateway.config.storage import StorageConfig
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.record import RecordCodec
from gateway.identity.sessions import SessionStore
from gateway.store.limiter import Limiter, hash_tag
from gateway.store.redis import RedisStore
from gateway.testing import eventually
from tests.delivery.conftest import SECRET, delivery
from tests.ha import Cluster, redis_cluster

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as started:
        yield started


@pytest.fixture
async def store(cluster: Cluster) -> AsyncIterator[RedisStore]:
    opened = RedisStore(StorageConfig(**cluster.storage))
    await opened.client.flushall(target_nodes="primaries")
    try:
        yield opened
    finally:
        await opened.close()


def slot(name: str) -> int:
    return key_slot(name.encode())


async def test_commands_and_scripts_on_a_cluster(store: RedisStore) -> None:
    assert store.address.startswith("cluster 127.0.0.1:")
    await store.set("apikey-a", "session", ttl=60)
    assert await store.get("apikey-a") == "session"
    assert await store.set_nx("webhook.cache.x", "d1", 60_000) is True
    assert await store.set_nx("webhook.cache.x", "d2", 60_000) is False
    assert await store.release("webhook.cache.x", "d1") is True
    assert await store.lease("uptime-leader", "me", 60_000) is True
    assert await store.lease("uptime-leader", "you", 60_000) is False
    assert [await store.incr("counter", 60) for _ in range(2)] == [1, 2]
    assert (await store.incr_window("quota-b", 60))[0] == 1
    assert await store.delete("apikey-a") is True
    assert await store.ping() is True


async def test_a_keys_window_shares_its_quota_counters_slot(store: RedisStore) -> None:
    limiter = Limiter(store.rate_limit_storage())
    window, amount, expiry = limiter.window("rate-limit-k1", 2, 10)
    assert window == "LIMITER/{quota-k1}rate-limit-k1/2/10/second"
    assert slot("LIMITS:" + window) == slot("quota-k1")
    results = [await store.hit_and_count(window, amount, expiry, "quota-k1", 60) for _ in range(3)]
    assert [(a, n) for a, n, _ in results] == [(True, 1), (True, 2), (False, 0)]
    # The limiter's own calls see the same window as the one-script path.
    assert await limiter.count("rate-limit-k1", 2, 10) == 2
    assert await limiter.hit("rate-limit-k1", 2, 10) is False
    # A name that cannot be tagged into its counter's slot takes the two steps one after the other.
    odd = limiter.window("rate-limit-a}b", 1, 10)[0]
    assert slot("LIMITS:" + odd) != slot("quota-a}b")
    assert (await store.hit_and_count(odd, 1, 10, "quota-a}b", 60))[:2] == (True, 1)
    assert (await store.hit_and_count(odd, 1, 10, "quota-a}b", 60))[:2] == (False, 0)
    assert await store.get("quota-a}b") == "1"


async def test_a_stale_slot_map_is_corrected_through_the_cluster_client(store: RedisStore) -> None:
    await store.set("apikey-m", "v")  # loads the map
    manager = store.client.nodes_manager
    slot_of = slot("apikey-m")
    owner = manager.slots_cache[slot_of][0]
    elsewhere = next(n for n in manager.nodes_cache.values() if n.name != owner.name)
    manager.slots_cache[slot_of] = [elsewhere]  # as after a resharding: that node answers MOVED
    assert await store.get("apikey-m") == "v"  # the hot path's GET, redirected
    manager.slots_cache[slot_of] = [elsewhere]
    assert await store.release("apikey-m", "v") is True  # a script, redirected
    assert manager.slots_cache[slot_of][0].name == owner.name  # the map was refreshed


async def test_keys_are_listed_from_every_node(store: RedisStore) -> None:
    names = [f"apikey-{n}" for n in range(40)]
    for name in names:
        await store.set(name, "x")
    assert len({slot(n) for n in names}) > 3  # spread over the nodes
    assert await store.keys("apikey-") == sorted(names)


async def test_pubsub_reaches_another_gateways_listener(cluster: Cluster, store: RedisStore) -> None:
    other = RedisStore(StorageConfig(**cluster.storage))
    heard: list[str] = []
    live = asyncio.Event()
    task = asyncio.create_task(other.listen("gateway.reload", heard.append, lambda up: up and live.set()))
    try:
        await asyncio.wait_for(live.wait(), 5)
        await store.publish("gateway.reload", "from-a")
        await eventually(lambda: heard == ["from-a"], "the message on the other client")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await other.close()


async def test_the_outbox_stream_works_on_a_cluster(store: RedisStore) -> None:
    codec = RecordCodec(SECRET)
    outbox = RedisOutbox(store.client, codec, "gw-a", claim_idle=600, timeout=store.timeout)
    sent = [delivery(n) for n in range(3)]
    for d in sent:
        await outbox.add(d)
    taken = await outbox.take(10, 0)
    assert taken == sent
    for d in taken:
        await outbox.finish(d.id)
    assert await outbox.backlog() == 0
    await outbox.close()


async def test_the_outbox_heartbeat_and_takeover_on_a_cluster(store: RedisStore) -> None:
    codec = RecordCodec(SECRET)
    owner = RedisOutbox(store.client, codec, "gw-a", claim_idle=1, timeout=store.timeout)
    other = RedisOutbox(store.client, codec, "gw-b", claim_idle=1, timeout=store.timeout)
    try:
        await owner.add(held := delivery(1))
        assert await owner.take(10, 0) == [held]
        await owner._claims.beat()  # XPENDING and XCLAIM JUSTID, routed to the stream's node
        await asyncio.sleep(1.5)  # past the claim idle: only the heartbeat keeps it the owner's
        assert await other.take(10, 0) == [] and await other.take(10, 0) == []
        await owner.close()
        await eventually(lambda: _took(other, held), "the takeover of the owner's entry", timeout=5)
    finally:
        await owner.close()
        await other.close()


async def _took(outbox: RedisOutbox, wanted: object) -> bool:
    return await outbox.take(10, 0.05) == [wanted]


def test_hash_tags_as_redis_computes_them() -> None:
    assert hash_tag("quota-abc") == "quota-abc"
    assert hash_tag("quota-{user1}-x") == "user1"
    assert hash_tag("quota-{}x") == "quota-{}x"  # an empty tag is no tag
    for name in ("quota-abc", "quota-{user1}-x", "quota-{a"):  # a tag with no "}" can be wrapped in one
        assert slot("{" + hash_tag(name) + "}rest") == slot(name)


class _Clustered(MemoryStorage):
    clustered = True


def test_the_limiter_pairs_each_key_with_the_counter_the_chain_names() -> None:
    # chain/rate_limit.py: "rate-limit-" + [scope "-"] + key or hash;
    # identity/sessions.quota_key: "quota-" + the same.
    sessions: Any = SessionStore.__new__(SessionStore)
    sessions.hash_keys = False
    limiter, plain = Limiter(_Clustered()), Limiter(MemoryStorage())
    for scope, key in (("", "k1"), ("per-api", "k2")):
        ident = "rate-limit-" + (scope + "-" if scope else "") + key
        counter = SessionStore.quota_key(sessions, key, scope)
        window = limiter.window(ident, 5, 60)[0]
        assert slot("LIMITS:" + window) == slot(counter)
        assert plain.window(ident, 5, 60)[0] == f"LIMITER/{ident}/5/60/second"  # one server: unchanged
    assert limiter.window("rate-limit-apilimiter-org1api", 5, 60)[0].startswith("LIMITER/{quota-apilimiter")
