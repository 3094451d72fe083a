"""The Redis store on Sentinel: the master found through the sentinels (each with its own password), and
after a failover every connection follows the new master: the pipelined hot path, the pool, the limits
storage and the pub/sub listener, which says it was cut off and comes back (on one server too, when
redis-py re-made the subscription by itself). A demoted master's READONLY refusal is sent again to the
master the resolver names next."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from gateway.config.storage import StorageConfig
from gateway.errors import StoreError
from gateway.store.limiter import Limiter
from gateway.store.redis import RedisStore
from gateway.store.resp import RespClient
from gateway.testing import eventually
from tests.conftest import RedisServer, redis_command
from tests.ha import PASSWORD, SentinelSet, sentinel_set

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_set(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    with sentinel_set(tmp_path_factory.mktemp("sentinel")) as started:
        yield started


async def test_every_connection_follows_a_failover(redis_set: SentinelSet) -> None:
    store = RedisStore(StorageConfig(**redis_set.storage))
    limiter = Limiter(store.rate_limit_storage())
    states: list[bool] = []
    heard: list[str] = []
    listener = asyncio.create_task(store.listen("gateway.reload", heard.append, states.append))
    try:
        assert store.address == f"sentinel gw-master@127.0.0.1:{redis_set.sentinel}"
        await eventually(lambda: states == [True], "the subscription")
        assert await store.incr("n") == 1  # the hot path, on the first master
        await store.set("apikey-a", "session")  # the pool
        assert await limiter.hit("rate-limit-a", 1, 60) is True
        old = redis_set.master_port()

        new = await asyncio.to_thread(redis_set.failover)

        probes = iter(range(10_000))

        async def on_new_master() -> bool:
            # A write through the pool and one through the hot path, each new, both on the new master.
            probe = f"probe-{next(probes)}"
            try:
                await store.set(probe, "pool")
                await store.set_nx(probe + "-fast", "fast", 60_000)
            except StoreError:  # a connection the old master closed as it stepped down: once, then not
                return False
            return redis_set.server(new).mget(probe, probe + "-fast") == ["pool", "fast"]

        await eventually(on_new_master, "writes to reach the new master")
        assert redis_set.server(new).get("apikey-a") == "session"  # replicated before the switch
        assert await limiter.hit("rate-limit-a", 1, 60) is False  # the window moved with the data
        await eventually(lambda: states[-2:] == [False, True], "the listener to come back")
        await store.publish("gateway.reload", "after-failover")
        await eventually(lambda: heard == ["after-failover"], "a message through the new master")
        assert new != old
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await store.close()


async def test_a_readonly_refusal_is_sent_again_to_the_next_master(redis_set: SentinelSet) -> None:
    dialled: list[int] = []

    async def resolve() -> tuple[str, int]:
        # First the replica (as a demoted master would answer), then the master.
        port = redis_set.replica if not dialled else redis_set.master
        dialled.append(port)
        return "127.0.0.1", port

    fast = RespClient("", 0, db=0, username="", password=PASSWORD, timeout=2, resolve=resolve)
    try:
        assert await fast.call("SET", "k", "v") == "OK"
        assert dialled == [redis_set.replica, redis_set.master]
        assert redis_set.server(redis_set.master).get("k") == "v"
    finally:
        await fast.close()


async def test_a_subscription_remade_by_redis_py_reports_the_gap(redis_flush: RedisServer) -> None:
    store = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    states: list[bool] = []
    listener = asyncio.create_task(store.listen("gateway.reload", lambda _m: None, states.append))
    try:
        await eventually(lambda: states == [True], "the subscription")
        assert redis_command(redis_flush, b"CLIENT KILL TYPE pubsub") == b":1"
        await eventually(lambda: states == [True, False, True], "the gap to be reported")
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
        await store.close()


async def test_a_close_while_connecting_dials_again(redis_flush: RedisServer) -> None:
    # The watcher closes the hot path when the master moves; a connection being made at that moment
    # (to the address the sentinels gave just before) must not be kept.
    asked: list[int] = []

    async def resolve() -> tuple[str, int]:
        asked.append(1)
        if len(asked) == 1:
            await fast.close()  # the switch, noticed while this connection is being made
        return redis_flush.host, redis_flush.port

    fast = RespClient("", 0, db=0, username="", password="", timeout=2, resolve=resolve)
    try:
        assert await fast.call("PING") == "PONG"
        assert len(asked) == 2
    finally:
        await fast.close()
