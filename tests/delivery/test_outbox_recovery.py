"""The Redis outbox through a stalled Redis and long sends, on the suite's real redis-server.

Two live gateways through a 5 s freeze (SIGSTOP) send every delivery exactly once, within seconds of the
resume: their own entries are read again at once, and neither takes over the other's entries that only
look idle because Redis stood still. A delivery waiting longer than the claim idle (a retry's backoff)
stays with its living owner, whose heartbeat keeps it fresh, and is taken over about a claim idle after
the owner is gone; an entry pending under our name that we never saw is found by the heartbeat.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.config.model import StorageConfig
from gateway.delivery.deliverer import Deliverer
from gateway.delivery.model import Delivery
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.store.redis import RedisStore
from gateway.testing import eventually
from tests.conftest import RedisServer
from tests.delivery.conftest import SECRET, Outboxes, delivery

pytestmark = pytest.mark.redis

FREEZE = 5.0  # seconds Redis is stopped, as in the campaign that found the delays
RECOVERED_WITHIN = 5.0  # seconds after the resume by which every delivery must have been sent


class Receiver:
    """Records every send by delivery id. Until `fast` is set a send takes 0.1-0.3 s and one in eight 7 s
    (past the short claim idle and the freeze), so sends run through the freeze while the gateways read a
    backlog; after, 10 ms, so what is left drains at once when the gateways have it."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self.last = 0.0  # when the latest send ended
        self.began: list[float] = []  # when each send began
        self.fast = False
        self._rand = random.Random(14)

    async def __call__(self, d: Delivery) -> bool:
        self.began.append(time.monotonic())
        slow = 7.0 if self._rand.random() < 0.125 else 0.1 + self._rand.random() * 0.2
        await asyncio.sleep(0.01 if self.fast else slow)
        self.sent[d.id] += 1
        self.last = time.monotonic()
        return True


# 3 s: shorter than the freeze and than the slow sends, so a takeover would show as a duplicate.
# 30 s (the default): a delivery left to a takeover would arrive far later than RECOVERED_WITHIN.
@pytest.mark.parametrize("claim_idle", [3.0, 30.0])
async def test_a_redis_freeze_loses_delays_and_duplicates_nothing(
    redis_flush: RedisServer, claim_idle: float
) -> None:
    cfg = StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port, timeout=1.0)
    stores = [RedisStore(cfg), RedisStore(cfg)]
    receiver = Receiver()
    gateways = []
    for n, store in enumerate(stores):
        codec = RecordCodec(SECRET)
        outbox = RedisOutbox(store.client, codec, f"gw-{n}", claim_idle=claim_idle, timeout=store.timeout)
        gateways.append(Deliverer(outbox, receiver, store, in_hand=8))
    # Added before the freeze (an add during it may run twice: once stalled, once written again).
    added = [delivery(n) for n in range(300)]
    for d in added:
        await gateways[0].outbox.add(d)
    for gateway in gateways:
        gateway.start()
    try:
        await asyncio.sleep(1.0)
        os.kill(redis_flush.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(FREEZE)
        finally:
            os.kill(redis_flush.pid, signal.SIGCONT)
            receiver.fast = True
        resumed = time.monotonic()
        await eventually(lambda: all(receiver.sent[d.id] for d in added), "every delivery", timeout=60)
        recovered = receiver.last - resumed
        restarted = max(t for t in receiver.began if t >= resumed) - resumed
        await eventually(lambda: all(g.running == 0 for g in gateways), "the sends to end")
        await eventually(lambda: _empty(gateways[0].outbox), "the outbox to empty")
        if claim_idle < FREEZE:
            await asyncio.sleep(claim_idle)  # time for a late takeover to show as a second send
    finally:
        for gateway in gateways:
            await gateway.stop(0)
            await gateway.outbox.close()
        for store in stores:
            await store.close()
    twice = {i: n for i, n in receiver.sent.items() if n > 1}
    print(
        f"\nclaim idle {claim_idle:g} s: {len(added)} added, {sum(receiver.sent.values())} sent, "
        f"{len(twice)} twice; after the resume the last send began at {restarted:.2f} s, ended at "
        f"{recovered:.2f} s"
    )
    assert not twice, f"sent more than once: {twice}"
    assert recovered < RECOVERED_WITHIN, f"last delivery {recovered:.1f} s after Redis resumed"


async def _empty(outbox: RedisOutbox) -> bool:
    return await outbox.backlog() == 0


@pytest.fixture
async def kit(redis_flush: RedisServer, tmp_path: Path) -> Outboxes:
    kit = Outboxes("redis", tmp_path, redis_flush.url)
    yield kit  # type: ignore[misc]
    await kit.close_all()


async def taken_within(outbox: RedisOutbox, seconds: float) -> list[Delivery]:
    """What `outbox` takes, looking every 50 ms for `seconds` (it stops at the first take)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if got := await outbox.take(10, 0.05):
            return got
    return []


async def test_a_delivery_waiting_past_the_claim_idle_stays_with_its_living_owner(kit: Outboxes) -> None:
    claim_idle = 1.0
    owner, other = kit.open("gw-owner", claim_idle=claim_idle), kit.open("gw-other", claim_idle=claim_idle)
    await owner.add(waiting := delivery(1))
    assert await owner.take(10, 0) == [waiting]  # now waiting out a backoff of several claim idles
    assert await taken_within(other, 3.5 * claim_idle) == []  # the owner's heartbeat keeps it fresh
    await owner.close()  # the owner is gone: its heartbeat stops, its entry stays pending
    gone = time.monotonic()
    assert await taken_within(other, 3 * claim_idle) == [waiting]
    took = time.monotonic() - gone
    print(f"\ntaken over {took:.2f} s after the owner stopped (claim idle {claim_idle:g} s)")
    assert claim_idle * 0.9 < took < claim_idle * 2.5


async def test_an_entry_pending_under_our_name_unseen_is_sent_before_the_claim_idle(
    kit: Outboxes, redis_flush: RedisServer
) -> None:
    # A read whose reply never reached us and that Redis ran after we had read our pending list again:
    # the entry is ours in Redis and nobody sends it. The heartbeat (every claim idle / 3) finds it.
    claim_idle = 6.0
    outbox = kit.open("gw-a", claim_idle=claim_idle)
    assert await outbox.take(10, 0) == []  # the group made, our pending list read (empty)
    await outbox.add(lost := delivery(1))
    raw = aioredis.Redis.from_url(redis_flush.url, decode_responses=True)
    try:
        await raw.xreadgroup(outbox.group, outbox.consumer, {outbox.stream: ">"})
    finally:
        await raw.aclose()
    started = time.monotonic()
    assert await taken_within(outbox, claim_idle * 2) == [lost]
    took = time.monotonic() - started
    assert took < claim_idle / 3 + 1.5, f"found after {took:.1f} s, not by the heartbeat"


async def test_after_redis_comes_back_takeovers_wait_one_claim_idle(
    kit: Outboxes, redis_flush: RedisServer
) -> None:
    # Redis stood still: every heartbeat stood still with it, so an entry that looks idle now may well
    # have a living owner. Its owner gets one claim idle to refresh it before anyone takes it over.
    claim_idle = 2.0
    dead = kit.open("gw-dead", claim_idle=claim_idle)
    await dead.add(left := delivery(1))
    assert await dead.take(10, 0) == [left]
    await dead.close()
    client = aioredis.Redis.from_url(redis_flush.url, decode_responses=True, socket_timeout=0.3)
    other = RedisOutbox(client, RecordCodec(SECRET), "gw-other", claim_idle=claim_idle)
    try:
        assert await other.take(10, 0) == []  # not idle long enough yet
        await asyncio.sleep(claim_idle + 0.2)
        os.kill(redis_flush.pid, signal.SIGSTOP)
        try:
            with pytest.raises(StoreError):
                await other.backlog()  # not a take: a claim sent now would run once Redis resumes
        finally:
            os.kill(redis_flush.pid, signal.SIGCONT)
        back = time.monotonic()
        assert await taken_within(other, claim_idle * 0.7) == []
        assert await taken_within(other, claim_idle * 1.5) == [left]
        took = time.monotonic() - back
        assert claim_idle <= took < claim_idle * 2
    finally:
        await other.close()
        await client.aclose()
