"""An outbox that cannot be written for a while (a full disk, Redis down), on each store: accepted
deliveries are held in memory and written in order once it recovers, each sent once; finish marks that
fail are written later and the delivery is not sent again meanwhile, nor after a restart; past
`events.outbox_hold` a delivery is dropped, counted and its cooldown released; warnings are throttled;
a stop that leaves writes undone says how many."""

from __future__ import annotations

import errno
import logging
from typing import Any

import pytest

from gateway.delivery import unwritten
from gateway.delivery.deliverer import Deliverer
from gateway.delivery.model import Delivery
from gateway.delivery.outbox_file import FileOutbox
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.store import journal
from gateway.store.base import Store
from gateway.testing import eventually
from tests.delivery.conftest import SECRET, Outboxes, delivery
from tests.delivery.test_deliverer import Target, kit

__all__ = ["kit"]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(unwritten, "RETRY_EVERY", 0.02)


class Flaky:
    """An outbox whose adds and finishes raise StoreError while told to (the rest passes through)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.adds_fail = False
        self.finishes_fail = False

    async def add(self, d: Delivery) -> None:
        if self.adds_fail:
            raise StoreError("outbox: write failed: [Errno 28] No space left on device")
        await self.inner.add(d)

    async def finish(self, delivery_id: str) -> None:
        if self.finishes_fail:
            raise StoreError("outbox: write failed: [Errno 28] No space left on device")
        await self.inner.finish(delivery_id)

    async def take(self, count: int, wait: float) -> list[Delivery]:
        return list(await self.inner.take(count, wait))

    async def backlog(self) -> int:
        return int(await self.inner.backlog())

    async def close(self) -> None:
        await self.inner.close()


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_deliveries_refused_by_the_outbox_are_held_then_each_sent_once(
    kit: tuple[Store, Outboxes], caplog: pytest.LogCaptureFixture
) -> None:
    store, outboxes = kit
    outbox, target = Flaky(outboxes.open()), Target()
    deliverer = Deliverer(outbox, target, store, in_hand=4, hold=100)
    deliverer.start()
    outbox.adds_fail = True
    accepted = [delivery(n) for n in range(50)]
    for d in accepted:
        await deliverer.submit(d)  # never raises: held
    assert deliverer.unwritten.held == 50 and target.sent == []  # nothing sent before it is durable
    outbox.adds_fail = False
    await eventually(lambda: len(target.sent) == 50, "every held delivery to be sent", timeout=10)
    await deliverer.idle()
    assert target.sent == [d.id for d in accepted]  # in order, each once (concurrency 4, instant sends)
    assert deliverer.unwritten.dropped == {} and await outbox.backlog() == 0
    await deliverer.stop(1)
    assert len(warnings(caplog)) == 1  # one line for the outage, not one per event


async def test_a_finish_mark_that_fails_is_written_later_and_nothing_is_sent_twice(
    kit: tuple[Store, Outboxes],
) -> None:
    store, outboxes = kit
    outbox, target = Flaky(outboxes.open()), Target()
    deliverer = Deliverer(outbox, target, store, in_hand=4)
    outbox.finishes_fail = True
    for n in range(10):
        await deliverer.submit(delivery(n))
    deliverer.start()
    await eventually(lambda: deliverer.unwritten.unfinished == 10, "ten sends with their finish refused")
    assert await outbox.backlog() == 10  # still in the outbox...
    assert await outbox.take(10, 0) == []  # ...and not handed out again by this process
    outbox.finishes_fail = False
    await eventually(lambda: deliverer.unwritten.unfinished == 0, "the finish marks to be written")
    assert await outbox.backlog() == 0
    await deliverer.stop(1)
    await outbox.close()
    assert await outboxes.open().take(10, 0) == []  # a restart sends none of them again
    assert len(target.sent) == len(set(target.sent)) == 10


async def test_past_the_hold_deliveries_are_dropped_counted_and_release_their_cooldown(
    kit: tuple[Store, Outboxes], caplog: pytest.LogCaptureFixture
) -> None:
    store, outboxes = kit
    outbox, target = Flaky(outboxes.open()), Target()
    deliverer = Deliverer(outbox, target, store, in_hand=4, hold=3)
    deliverer.start()
    outbox.adds_fail = True
    accepted = [delivery(n, reservation=f"webhook.cache.{n}") for n in range(8)]
    for d in accepted:
        await store.set_nx(d.reservation, d.id, 60_000)
        await deliverer.submit(d)
    assert deliverer.unwritten.dropped == {"outbox_unavailable": 5}  # only past the bound
    assert [await store.get(d.reservation) for d in accepted] == [d.id for d in accepted[:3]] + [None] * 5
    outbox.adds_fail = False
    await eventually(lambda: len(target.sent) == 3, "the three held deliveries to be sent")
    await deliverer.idle()
    await deliverer.stop(1)
    assert target.sent == [d.id for d in accepted[:3]]
    lines = warnings(caplog)
    assert len(lines) == 2 and "dropped" in lines[1] and "events.outbox_hold" in lines[1]


async def test_a_stop_with_writes_still_refused_reports_them(
    kit: tuple[Store, Outboxes], caplog: pytest.LogCaptureFixture
) -> None:
    store, outboxes = kit
    outbox = Flaky(outboxes.open())
    deliverer = Deliverer(outbox, Target(), store, in_hand=4)
    await deliverer.submit(delivery(0))
    deliverer.start()
    await eventually(lambda: deliverer.unwritten.unfinished == 0, "the first to be sent")
    await deliverer.idle()
    outbox.adds_fail = outbox.finishes_fail = True
    for n in range(1, 4):
        await deliverer.submit(delivery(n))
    await deliverer.stop(1)
    assert (deliverer.unwritten.held, deliverer.unwritten.unfinished) == (3, 0)
    assert any("3 deliveries held in memory are lost" in r.getMessage() for r in caplog.records)


async def test_a_file_outbox_on_a_failing_disk_loses_no_finish_and_raises_no_loss_alarm(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real journal, its writes failing as on a full disk: a refused finish is not forgotten (it was
    once taken out of memory before being written, so trying again did nothing and the delivery was sent
    again after a restart), and refused lines spend no line number (a gap read as a cut file at start)."""
    folder, codec = tmp_path / "data", RecordCodec(SECRET)
    outbox = FileOutbox(folder, codec)
    first = [delivery(n) for n in range(3)]
    for d in first:
        await outbox.add(d)
    assert len(await outbox.take(10, 0)) == 3

    def full(_fd: int, _data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write", full)
    with pytest.raises(StoreError, match="No space left"):
        await outbox.finish(first[0].id)
    with pytest.raises(StoreError, match="No space left"):
        await outbox.add(delivery(99))  # refused: the caller holds it
    monkeypatch.undo()
    await outbox.finish(first[0].id)  # the retry writes it
    later = delivery(3)
    await outbox.add(later)
    await outbox.close()
    reopened = FileOutbox(folder, codec)  # raises "records lost" if a number had been spent
    try:
        assert sorted(d.id for d in await reopened.take(10, 0)) == sorted(d.id for d in [*first[1:], later])
    finally:
        await reopened.close()
