"""What the outbox could not write (a full disk, Redis down), kept in memory and written again every second.

It owns two lists: deliveries to add, in order and at most `limit` of them (past it one is dropped,
counted under OUTBOX_UNAVAILABLE, logged at most every 10 s, its cooldown reservation released), and
finish marks, kept until written. It never sends anything: a delivery reaches the sender only out of the
outbox, so one held here is not sent until it is durable (at-least-once holds for every one sent).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, deque

from gateway.delivery import cooldown
from gateway.delivery.model import Delivery, Outbox
from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.base import Store

log = get_logger("delivery")

OUTBOX_UNAVAILABLE = "outbox_unavailable"  # the drop reason in the event stats' webhook counts
RETRY_EVERY = 1.0  # seconds between attempts to write what is held


class Unwritten:
    def __init__(
        self,
        outbox: Outbox,
        store: Store,
        *,
        limit: int,
        dropped: Counter[str] | None = None,
        every: float | None = None,
    ) -> None:
        self._outbox = outbox
        self._store = store
        self._limit = max(0, limit)
        self.dropped: Counter[str] = dropped if dropped is not None else Counter()
        self._every = RETRY_EVERY if every is None else every
        self._adds: deque[Delivery] = deque()
        self._finishes: dict[str, None] = {}  # delivery ids, oldest first
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._log = Throttle(10.0)

    @property
    def held(self) -> int:
        """Deliveries accepted and not yet in the outbox."""
        return len(self._adds)

    @property
    def unfinished(self) -> int:
        """Deliveries done with whose finish mark is not yet written."""
        return len(self._finishes)

    async def add(self, delivery: Delivery) -> None:
        """Into the outbox, or held behind those already held (so they are written in order)."""
        error: StoreError | None = None
        if not self._adds:
            try:
                await self._outbox.add(delivery)
                return
            except StoreError as exc:
                error = exc
        if len(self._adds) >= self._limit:
            await self._drop(delivery)
            return
        self._adds.append(delivery)
        self._wake.set()
        if error is not None:
            self._warn(error)

    async def finish(self, delivery_id: str) -> None:
        """Mark finished, or keep the mark to write later. Until it is written the outbox still holds the
        delivery, taken: this process does not hand it out again; a restart would, so it is retried."""
        try:
            await self._outbox.finish(delivery_id)
        except StoreError as exc:
            self._finishes[delivery_id] = None
            self._wake.set()
            self._warn(exc)

    async def retry(self) -> bool:
        """One attempt at everything held, oldest first; True when nothing is left."""
        try:
            for delivery_id in list(self._finishes):
                await self._outbox.finish(delivery_id)
                del self._finishes[delivery_id]
            while self._adds:
                await self._outbox.add(self._adds[0])
                self._adds.popleft()
        except StoreError as exc:
            self._warn(exc)
            return False
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-unwritten")

    async def stop(self) -> None:
        """One last attempt, then no more (what is left is the caller's to report: `held`, `unfinished`).
        A write under way is let finish, not cancelled: a cancelled XADD may have been made, and the
        last attempt would then add the delivery a second time."""
        task, self._task = self._task, None
        self._stopping.set()
        self._wake.set()
        if task is not None:
            await task
        if self._adds or self._finishes:
            await self.retry()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            await self._wake.wait()
            self._wake.clear()
            while (self._adds or self._finishes) and not self._stopping.is_set():
                before = self.held + self.unfinished
                try:
                    written = await self.retry()
                except Exception:  # a bug must not end the only task that writes what is held
                    if self._log.allow("bug"):
                        log.exception("webhook outbox: writing what is held failed unexpectedly")
                    written = False
                if written:
                    log.info("webhook outbox written again: the %d writes held are in it now", before)
                    break
                with contextlib.suppress(TimeoutError):  # a stop ends the wait
                    await asyncio.wait_for(self._stopping.wait(), self._every)

    async def _drop(self, delivery: Delivery) -> None:
        self.dropped[OUTBOX_UNAVAILABLE] += 1
        held_back = self._log.allow_count("drop")
        if held_back is not None:
            log.warning(
                "webhook %r delivery %s dropped: the outbox cannot be written and %d deliveries are held "
                "already (events.outbox_hold); %d more dropped since the last such line",
                delivery.handler,
                delivery.id,
                self._limit,
                held_back,
            )
        if delivery.reservation:  # a later identical event may go
            await cooldown.release(self._store, delivery.reservation, delivery.id)

    def _warn(self, exc: StoreError) -> None:
        held_back = self._log.allow_count("write")
        if held_back is not None:
            log.warning(
                "webhook outbox cannot be written, retrying every %g s: %s (%d deliveries and %d finish "
                "marks held in memory; %d more failures since the last such line)",
                self._every,
                exc,
                self.held,
                self.unfinished,
                held_back,
            )
