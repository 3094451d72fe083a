"""The Redis outbox after a Sentinel failover: an entry finished on the old master whose finish never
reached the new one comes back in our pending list; after the store reports the switch, it is read
again and finished, not sent a second time. And an entry written to the old master after its replica was
promoted (replication is asynchronous: the new master never had it) is added again after the switch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.delivery.outbox_redis import FIELD, RedisOutbox
from gateway.delivery.record import RecordCodec
from tests.conftest import RedisServer
from tests.delivery.conftest import SECRET, delivery
from tests.ha import Processes, client, until

pytestmark = pytest.mark.redis


async def test_a_delivery_finished_before_a_failover_is_not_sent_again(redis_flush: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_flush.url, decode_responses=True)
    codec = RecordCodec(SECRET)
    switches = 0
    outbox = RedisOutbox(client, codec, "gw-a", claim_idle=600, failovers=lambda: switches)
    try:
        sent = delivery(1)
        await outbox.add(sent)
        added: Any = await client.xrange(outbox.stream)
        entry = str(added[0][0])
        assert await outbox.take(10, 0) == [sent]
        await outbox.finish(sent.id)
        # The new master: the entry replicated (its id kept), read by us, its XACK and XDEL lost with the
        # old master. (A new entry of the same delivery id is a resend, and is sent: test_resend.py.)
        await client.delete(outbox.stream)
        await client.xadd(outbox.stream, {FIELD: codec.dumps(sent)}, id=entry)
        await client.xgroup_create(outbox.stream, outbox.group, id="0")
        await client.xreadgroup(outbox.group, outbox.consumer, {outbox.stream: ">"})
        switches += 1
        assert await outbox.take(10, 0) == []  # read again from our pending list, and finished
        assert await outbox.backlog() == 0
        assert (await client.xpending(outbox.stream, outbox.group))["pending"] == 0
    finally:
        await outbox.close()
        await client.aclose()


async def test_an_entry_the_new_master_never_had_is_added_again(tmp_path: Path) -> None:
    procs = Processes(tmp_path)
    try:
        old = procs.start("redis-server", ["--save", "", "--repl-diskless-sync-delay", "0"])
        new = procs.start("redis-server", ["--save", "", "--replicaof", "127.0.0.1", str(old)])
        primary = client(old)
        until(lambda: primary.set("probe", "1") and primary.execute_command("WAIT", 1, 1000) == 1, "sync")
        redis = aioredis.Redis(port=old, decode_responses=True)
        switches = 0
        outbox = RedisOutbox(redis, RecordCodec(SECRET), "gw-a", claim_idle=600, failovers=lambda: switches)
        try:
            kept = delivery(1)
            await outbox.add(kept)
            assert primary.execute_command("WAIT", 1, 1000) == 1  # on the replica
            client(new).replicaof("NO", "ONE")  # promoted; the old master still takes writes
            lost = delivery(2)
            await outbox.add(lost)
            client(old).replicaof("127.0.0.1", str(new))  # demoted: it drops what the new one lacks
            until(lambda: client(old).xlen(outbox.stream) == 1, "the old master to resync")
            # The client now reaches the new master, as the Sentinel pool does after a switch.
            await redis.connection_pool.disconnect()
            redis.connection_pool = aioredis.ConnectionPool(port=new, decode_responses=True)
            switches += 1
            taken = await outbox.take(10, 0)
            assert sorted(d.id for d in taken) == sorted([kept.id, lost.id])
            for sent in taken:
                await outbox.finish(sent.id)
            assert await outbox.backlog() == 0
        finally:
            await outbox.close()
            await redis.aclose()
    finally:
        procs.stop_all()
