"""The Deliverer on each store with its outbox: bounded deliveries in hand, finished on success and on
give-up (then the cooldown reservation is released), a stop that leaves unfinished sends in the outbox,
and, with the real Sender, deliveries waiting to retry that leave the wire to others. `send` is otherwise
a controllable coroutine (the seam the real Sender fills; e2e tests use the real one)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.model import StorageConfig
from gateway.delivery.deliverer import Deliverer
from gateway.delivery.model import Delivery, RetryPolicy
from gateway.delivery.sender import Sender
from gateway.store.base import Store
from gateway.store.registry import open_store
from gateway.testing import WebhookRecorder, eventually, serve
from tests.delivery.conftest import Outboxes, delivery


class Target:
    """A send function: answers `result` once released; records how many ran at once."""

    def __init__(self, result: bool = True, released: bool = True) -> None:
        self.result = result
        self.gate = asyncio.Event()
        if released:
            self.gate.set()
        self.running = 0
        self.most = 0
        self.sent: list[str] = []

    async def __call__(self, d: Delivery) -> bool:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await self.gate.wait()
        finally:
            self.running -= 1
        if isinstance(self.result, Exception):
            raise self.result
        self.sent.append(d.id)
        return self.result


@pytest.fixture(params=["embedded", "redis"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[Store, Outboxes]]:
    if request.param == "redis":
        server = request.getfixturevalue("redis_flush")
        store = open_store(StorageConfig(type="redis", host=server.host, port=server.port))
        outboxes = Outboxes("redis", tmp_path, server.url)
    else:
        store = open_store(StorageConfig(path=str(tmp_path / "store")))
        outboxes = Outboxes("file", tmp_path)
    try:
        yield store, outboxes
    finally:
        await outboxes.close_all()
        await store.close()


async def test_holds_at_most_in_hand_at_once_and_finishes_each(kit: tuple[Store, Outboxes]) -> None:
    store, outboxes = kit
    target = Target(released=False)
    deliverer = Deliverer(outboxes.open(), target, store, in_hand=3)
    for n in range(10):
        await deliverer.submit(delivery(n))
    deliverer.start()
    await eventually(lambda: target.running == 3, "three sends in flight")
    assert await deliverer.outbox.backlog() == 10  # nothing is finished while it is being sent
    target.gate.set()
    await asyncio.wait_for(deliverer.idle(), 10)
    assert target.most == 3 and len(set(target.sent)) == 10
    await deliverer.stop(1)


@pytest.mark.parametrize("result", [True, False, RuntimeError("bug in send")])
async def test_reservation_released_only_when_given_up(kit: tuple[Store, Outboxes], result: Any) -> None:
    store, outboxes = kit
    deliverer = Deliverer(outboxes.open(), Target(result), store, in_hand=4)
    mine = delivery(1, reservation="webhook.cache.mine")
    newer = delivery(2, reservation="webhook.cache.taken-over")
    await store.set_nx(mine.reservation, mine.id, 60_000)
    await store.set_nx(newer.reservation, "a-newer-delivery", 60_000)  # this one expired and was re-reserved
    for d in (mine, newer):
        await deliverer.submit(d)
    deliverer.start()
    await asyncio.wait_for(deliverer.idle(), 10)  # both finished: the outbox is empty
    assert await store.get(mine.reservation) == (mine.id if result is True else None)
    assert await store.get(newer.reservation) == "a-newer-delivery"
    await deliverer.stop(1)


async def test_stop_waits_for_running_sends_until_the_deadline(kit: tuple[Store, Outboxes]) -> None:
    store, outboxes = kit
    target = Target(released=False)
    deliverer = Deliverer(outboxes.open(), target, store, in_hand=4)
    await deliverer.submit(delivery(1))
    deliverer.start()
    await eventually(lambda: target.running == 1, "the send to start")
    stopping = asyncio.create_task(deliverer.stop(30))
    await eventually(lambda: deliverer._loop is None, "the deliverer to stop taking work")
    assert not stopping.done()
    target.gate.set()
    await stopping
    assert len(target.sent) == 1 and await deliverer.outbox.backlog() == 0


async def test_stop_leaves_sends_past_the_deadline_in_the_outbox(kit: tuple[Store, Outboxes]) -> None:
    store, outboxes = kit
    target = Target(released=False)
    outbox = outboxes.open()
    deliverer = Deliverer(outbox, target, store, in_hand=2)
    stuck = [delivery(n) for n in range(3)]  # two in flight, one waiting
    for d in stuck:
        await deliverer.submit(d)
    deliverer.start()
    await eventually(lambda: target.running == 2, "two sends in flight")
    await deliverer.stop(0.05)
    assert target.running == 0 and target.sent == []
    await outbox.close()
    restarted = outboxes.open()  # the next start, the same consumer name on Redis
    found = await restarted.take(10, 0)
    found += await restarted.take(10, 0)
    assert sorted(d.id for d in found) == sorted(d.id for d in stuck)


async def test_deliveries_waiting_to_retry_leave_the_wire_to_others(kit: tuple[Store, Outboxes]) -> None:
    """One attempt on the wire at a time: four deliveries to a receiver that is down wait (for ever,
    here) between attempts, and four to a healthy one are sent meanwhile."""
    store, outboxes = kit
    down, up = WebhookRecorder(status=503), WebhookRecorder()

    async def backoff(seconds: float) -> None:
        await asyncio.get_running_loop().create_future()  # a retry that is never due

    async with await serve(down) as dead, await serve(up) as alive, httpx.AsyncClient() as http:
        sender = Sender(http, sleep=backoff, concurrency=1)
        deliverer = Deliverer(outboxes.open(), sender, store, in_hand=8)
        retry = RetryPolicy(5, 300, 1.0, 60)
        for n, url in enumerate([dead.url] * 4 + [alive.url] * 4):
            await deliverer.submit(delivery(n, url=url + "/hook", retry=retry, accepted=time.time()))
        deliverer.start()
        try:
            await up.wait_for(4)
            await eventually(lambda: deliverer.running == 4, "only the four waiting deliveries in hand")
            assert len(down.deliveries) == 4  # each tried once
        finally:
            await deliverer.stop(0.05)
