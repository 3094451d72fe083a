"""Resend, on each durable outbox: the Deliverer keeps what it accepts (bounded by count and by bytes), and a
resend accepts a kept delivery again with the same id, a fresh retry budget and no cooldown of its own; it
is sent even where the outbox remembers that id as finished (Redis), never twice while still in hand, and
an id no longer kept is refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.config.model import StorageConfig
from gateway.delivery.deliverer import Deliverer
from gateway.delivery.kept import KeptDeliveries
from gateway.delivery.model import Delivery
from gateway.store.base import Store
from gateway.store.registry import open_store
from gateway.testing import eventually
from tests.delivery.conftest import Outboxes, delivery


class Target:
    """A send function recording each delivery it is handed; blocks while `gate` is clear."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.gate.set()
        self.sent: list[Delivery] = []

    async def __call__(self, d: Delivery) -> bool:
        await self.gate.wait()
        self.sent.append(d)
        return False  # given up: as the deliveries an operator resends are


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(StorageConfig(path=str(tmp_path / "store")))
    try:
        yield opened
    finally:
        await opened.close()


def test_kept_deliveries_are_bounded_by_count_and_by_bytes() -> None:
    kept = KeptDeliveries(size=3, max_bytes=100)
    for n in range(5):
        kept.keep(delivery(n))
    assert len(kept) == 3 and kept.get(delivery(0).id) is None
    big = delivery(9, body=b"x" * 60)
    kept.keep(big)
    last = delivery(10, body=b"y" * 50)
    kept.keep(last)  # past 100 bytes: the oldest go, the big one among them
    assert kept.get(big.id) is None and len(kept) == 1 and kept.get(last.id) is last
    kept.keep(delivery(11, body=b"z" * 101))  # past the byte bound alone: never kept
    assert len(kept) == 1
    same = delivery(12)
    kept.keep(same)
    kept.keep(same)
    assert len(kept) == 2 and kept.get(same.id) is same


async def test_a_resend_is_sent_again_with_the_same_id_and_a_fresh_budget(
    outboxes: Outboxes, store: Store
) -> None:
    target = Target()
    deliverer = Deliverer(outboxes.open(), target, store, in_hand=4)
    deliverer.start()
    first = delivery(1, reservation="webhook-cooldown-x", accepted=1700000000.0)
    await deliverer.submit(first)
    await eventually(lambda: len(target.sent) == 1, "the first series")
    await asyncio.wait_for(deliverer.idle(), 10)
    before = time.time()
    assert await deliverer.resend(first.id)
    # On Redis the outbox remembers the id as finished: the new entry is sent all the same.
    await eventually(lambda: len(target.sent) == 2, "the resend")
    again = target.sent[1]
    assert again.id == first.id and again.body == first.body and again.headers == first.headers
    assert again.accepted >= before and again.reservation == ""  # its own budget; no cooldown to free
    assert not await deliverer.resend("msg_unknown")
    await asyncio.wait_for(deliverer.idle(), 10)
    await deliverer.stop(1)


async def test_a_delivery_still_in_hand_is_not_accepted_twice(outboxes: Outboxes, store: Store) -> None:
    target = Target()
    target.gate.clear()
    deliverer = Deliverer(outboxes.open(), target, store, in_hand=4)
    deliverer.start()
    pending = delivery(2)
    await deliverer.submit(pending)
    await eventually(lambda: deliverer.running == 1, "in hand")
    assert await deliverer.resend(pending.id)  # its attempts go on
    target.gate.set()
    await asyncio.wait_for(deliverer.idle(), 10)
    assert [d.id for d in target.sent] == [pending.id]
    await deliverer.stop(1)
