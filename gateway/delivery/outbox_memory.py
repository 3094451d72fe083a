"""The in-memory outbox (`events.outbox: false`), and the queue the file outbox builds on.

It keeps every delivery added and not finished, hands out those not yet taken in order, and wakes a
waiting `take` on each add. Not durable: what is unfinished when the process ends is lost (counted
in a warning on close). It must not do I/O; `outbox_file` adds the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from gateway.delivery.model import Delivery
from gateway.errors import StoreError
from gateway.log import get_logger

log = get_logger("delivery.outbox")


class MemoryOutbox:
    durable = False

    def __init__(self) -> None:
        self._pending: dict[str, Delivery] = {}  # added and not finished, taken or not
        self._ready: deque[Delivery] = deque()  # not yet handed out in this run
        self._added = asyncio.Event()
        self._closed = False

    async def add(self, delivery: Delivery) -> None:
        if self._closed:
            raise StoreError("outbox is closed")
        self._record_add(delivery)
        self._pending[delivery.id] = delivery
        self._ready.append(delivery)
        self._added.set()

    async def take(self, count: int, wait: float) -> list[Delivery]:
        if not self._ready and not self._closed and wait > 0:
            self._added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._added.wait(), wait)
        taken: list[Delivery] = []
        while self._ready and len(taken) < count:
            delivery = self._ready.popleft()
            if delivery.id in self._pending:  # finished before it was taken: skip it
                taken.append(delivery)
        return taken

    async def finish(self, delivery_id: str) -> None:
        if self._closed:
            raise StoreError("outbox is closed")
        if delivery_id in self._pending:
            # Recorded first: a finish that cannot be written leaves the delivery pending (not handed
            # out again, as it was taken), so that trying the finish again writes it.
            self._record_done(delivery_id)
            del self._pending[delivery_id]

    async def backlog(self) -> int:
        """Deliveries added and not finished (taken or not)."""
        return len(self._pending)

    async def oldest(self) -> float | None:
        first = next(iter(self._pending.values()), None)  # a dict keeps the order they were added in
        return first.accepted if first is not None else None

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._added.set()  # a waiting take returns at once
        if self._pending and not self.durable:
            log.warning("non-durable outbox closed with %d webhook deliveries lost", len(self._pending))

    # -- what a durable subclass journals ------------------------------------------------------

    def _record_add(self, delivery: Delivery) -> None:
        """Persist an add before it is visible (raise StoreError if it cannot be)."""

    def _record_done(self, delivery_id: str) -> None:
        """Persist a finish."""
