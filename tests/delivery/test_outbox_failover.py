"""The Redis outbox after a Sentinel failover: an entry finished on the old master whose finish never
reached the new one comes back in our pending list; after the store reports the switch, it is read
again and finished, not sent a second time."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from gateway.delivery.outbox_redis import FIELD, RedisOutbox
from gateway.delivery.record import RecordCodec
from tests.conftest import RedisServer
from tests.delivery.conftest import SECRET, delivery

pytestmark = pytest.mark.redis


async def test_a_delivery_finished_before_a_failover_is_not_sent_again(redis_flush: RedisServer) -> None:
    client = aioredis.Redis.from_url(redis_flush.url, decode_responses=True)
    codec = RecordCodec(SECRET)
    switches = 0
    outbox = RedisOutbox(client, codec, "gw-a", claim_idle=600, failovers=lambda: switches)
    try:
        sent = delivery(1)
        await outbox.add(sent)
        assert await outbox.take(10, 0) == [sent]
        await outbox.finish(sent.id)
        # The new master: the entry replicated, read by us, its XACK and XDEL lost with the old master.
        await client.xadd(outbox.stream, {FIELD: codec.dumps(sent)})
        await client.xreadgroup(outbox.group, outbox.consumer, {outbox.stream: ">"})
        switches += 1
        assert await outbox.take(10, 0) == []  # read again from our pending list, and finished
        assert await outbox.backlog() == 0
        assert (await client.xpending(outbox.stream, outbox.group))["pending"] == 0
    finally:
        await outbox.close()
        await client.aclose()
