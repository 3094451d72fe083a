"""The Redis Stream outbox between gateways: new entries shared out (each read by one consumer), a
dead consumer's entries taken over after the claim idle (not before), and StoreError, never a raw
redis exception, when Redis is unreachable or the stream vanished."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from gateway.delivery.model import Delivery
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.testing import eventually, unused_port
from tests.conftest import RedisServer
from tests.delivery.conftest import SECRET, Outboxes, delivery


@pytest.fixture
async def kit(redis_flush: RedisServer, tmp_path: Path) -> Outboxes:
    kit = Outboxes("redis", tmp_path, redis_flush.url)
    yield kit  # type: ignore[misc]
    await kit.close_all()


async def drain(
    outbox: RedisOutbox, until: int, got: list[Delivery] | None = None, timeout: float = 10.0
) -> list[Delivery]:
    """Take (and finish) until `got` (perhaps shared with other consumers) holds `until` deliveries,
    within a bounded time; returns what this consumer took."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got = [] if got is None else got
    mine: list[Delivery] = []
    while len(got) < until and loop.time() < deadline:
        batch = await outbox.take(3, 0.05)
        got += batch
        mine += batch
        for d in batch:
            await outbox.finish(d.id)
        await asyncio.sleep(0)  # let the other consumer have a turn
    return mine


async def test_two_consumers_share_new_entries_without_duplicates(kit: Outboxes) -> None:
    a, b = kit.open("gw-a"), kit.open("gw-b")
    added = [delivery(n) for n in range(30)]
    for d in added:
        await a.add(d)
    shared: list[Delivery] = []
    got_a, got_b = await asyncio.gather(drain(a, 30, shared), drain(b, 30, shared))
    ids = [d.id for d in got_a + got_b]
    assert sorted(ids) == sorted(d.id for d in added)  # every one, none twice
    assert await a.backlog() == 0


async def test_a_dead_consumers_entries_are_claimed_after_the_idle_time(kit: Outboxes) -> None:
    dead = kit.open("gw-dead")
    lost = delivery(1)
    await dead.add(lost)
    assert await dead.take(10, 0) == [lost]  # taken, then the gateway dies without finishing
    alive = kit.open("gw-alive", claim_idle=600)
    assert await alive.take(10, 0) == [] and await alive.take(10, 0) == []  # not idle long enough
    rescuer = kit.open("gw-rescuer", claim_idle=0.2)
    (claimed,) = await drain(rescuer, 1)
    assert claimed == lost
    assert await rescuer.backlog() == 0


async def test_the_same_consumer_name_gets_its_own_pending_entries_first(kit: Outboxes) -> None:
    first = kit.open("gw-a")
    old, new = delivery(1), delivery(2)
    await first.add(old)
    assert await first.take(10, 0) == [old]
    await first.add(new)
    restarted = kit.open("gw-a")
    assert await restarted.take(10, 0) == [old]  # its own unfinished entry, before any new one
    assert await restarted.take(10, 0) == [new]


async def test_the_stream_deleted_under_a_running_outbox(kit: Outboxes, redis_server: RedisServer) -> None:
    outbox = kit.open()
    await outbox.add(delivery(1))
    await outbox._client.flushall()
    await outbox.add(d := delivery(2))
    # The take finds no group (NOGROUP), creates it again from id 0 and reads the new entry.
    assert await outbox.take(10, 0) == [d]


async def test_unreachable_redis_is_a_store_error() -> None:
    client = aioredis.Redis(host="127.0.0.1", port=unused_port(), retry=Retry(NoBackoff(), 0))
    outbox = RedisOutbox(client, RecordCodec(SECRET), "gw", claim_idle=1, address="nowhere")
    try:
        for call in (outbox.add(delivery()), outbox.take(1, 0), outbox.backlog()):
            with pytest.raises(StoreError, match="redis nowhere"):
                await call
    finally:
        await outbox.close()
        await client.aclose()


async def test_entries_handed_out_in_a_read_that_timed_out_are_taken_next(redis_flush: RedisServer) -> None:
    # A stalled Redis (frozen past the client's socket timeout) runs the XREADGROUP once it resumes: the
    # entry is then ours in Redis (pending under our name) while the client has given up on the reply.
    client = aioredis.Redis.from_url(redis_flush.url, decode_responses=True, socket_timeout=0.3)
    other = aioredis.Redis.from_url(redis_flush.url, decode_responses=True)
    outbox = RedisOutbox(client, RecordCodec(SECRET), "gw", claim_idle=600)
    try:
        assert await outbox.take(1, 0) == []  # the group exists; our own pending list is read (empty)
        await outbox.add(lost := delivery(1))
        os.kill(redis_flush.pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreError):
                await outbox.take(1, 0.1)
        finally:
            os.kill(redis_flush.pid, signal.SIGCONT)

        async def handed_out() -> bool:
            return int((await other.xpending(outbox.stream, outbox.group))["pending"]) == 1

        await eventually(handed_out, "the stalled read to run and hand the entry to us")
        assert await outbox.take(1, 0) == [lost]  # from our pending list, not 600 s later by a claim
    finally:
        await outbox.close()
        await client.aclose()
        await other.aclose()
