"""The Deliverer: what webhook handlers submit to, and the loop that drains the outbox through `send`.

`submit` only adds to the outbox (that is where an event becomes durable; what the outbox cannot write
is held and written again by delivery/unwritten.py). The run loop takes deliveries and sends each in its
own task, at most `in_hand` at once, sending or waiting between attempts (the Sender bounds the attempts
on the wire); a delivery is finished when sent or given up (then its cooldown reservation is released).
On `stop` a send still running at the deadline is cancelled and NOT finished: it stays in the outbox for
the next start (at-least-once). What it accepts it keeps a while, for `resend`: the last ones in memory
(kept.py), and every one for `events.retention` in the retained log of bodies (sealed; shared on Redis).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace

from gateway.delivery import cooldown
from gateway.delivery.kept import KeptDeliveries
from gateway.delivery.model import Delivery, Outbox
from gateway.delivery.retained import RetainedLog
from gateway.delivery.unwritten import Unwritten
from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.base import Store
from gateway.tasks import cancel_and_wait

log = get_logger("delivery")

Send = Callable[[Delivery], Awaitable[bool]]  # True delivered, False given up
TAKE_WAIT = 1.0  # seconds a take waits for new work before looking again (claims, stop)
RETRY_AFTER_ERROR = 1.0  # seconds between attempts to reach an outbox that failed
# Deliveries in hand (sending, or waiting to retry) per attempt on the wire (`events.delivery_concurrency`):
# enough that receivers which are down fill it only after thousands of waiting deliveries, while what is
# in hand stays bounded in memory (the rest waits in the outbox).
IN_HAND_PER_SEND = 64


class Deliverer:
    def __init__(
        self,
        outbox: Outbox,
        send: Send,
        store: Store,
        in_hand: int,
        *,
        hold: int = 10_000,
        dropped: Counter[str] | None = None,
        bodies: RetainedLog | None = None,
    ) -> None:
        self.outbox = outbox
        # `hold`: events.outbox_hold; `dropped`: where drops past it are counted, by reason.
        self.unwritten = Unwritten(outbox, store, limit=hold, dropped=dropped)
        self._send = send
        self._store = store
        self._in_hand = max(1, in_hand)
        self._running: set[asyncio.Task[None]] = set()
        self._sending: set[str] = set()  # ids of the deliveries in hand
        self.kept = KeptDeliveries()  # the last ones accepted, whole: what `resend` sends again
        self.bodies = bodies  # every one accepted, for the retention: a resend from any gateway
        self._room = asyncio.Event()  # set while fewer than `in_hand` deliveries run
        self._room.set()
        self._loop: asyncio.Task[None] | None = None
        self._error_log = Throttle(10.0)

    async def submit(self, delivery: Delivery) -> None:
        self.kept.keep(delivery)
        if self.bodies is not None:
            self.bodies.append(delivery, key=delivery.id)  # sealed and written by its flush, later
        await self.unwritten.add(delivery)

    async def resend(self, delivery_id: str) -> bool:
        """Accept a kept delivery again: the same id (receivers deduplicate on its webhook-id), a new
        series of attempts counted from now, no cooldown of its own. False when it is no longer kept
        (here, or in the retained bodies: StoreError when those cannot be read). One still in hand here
        is not accepted twice (one id, one entry in the outbox): its attempts go on."""
        delivery = self.kept.get(delivery_id)
        if delivery is None and self.bodies is not None:
            delivery = await self.bodies.get(delivery_id)
        if not isinstance(delivery, Delivery):
            return False
        if delivery_id not in self._sending:
            await self.submit(replace(delivery, reservation="", accepted=time.time()))
        return True

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name="deliverer")
            self.unwritten.start()

    async def stop(self, deadline: float) -> None:
        """Take no more work; let running sends finish for `deadline` seconds, then cancel the rest
        without finishing them, so they stay in the outbox."""
        loop, self._loop = self._loop, None
        await cancel_and_wait(loop)  # again and again: a Redis read can lose one cancel (tasks.py)
        running = set(self._running)
        if running:
            _, late = await asyncio.wait(running, timeout=max(0.0, deadline))
            if late:
                log.warning("shutdown deadline passed: %d webhook deliveries left in the outbox", len(late))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self.unwritten.stop()
        if self.unwritten.held or self.unwritten.unfinished:
            log.error(
                "webhook outbox still cannot be written at shutdown: %d deliveries held in memory are lost,"
                " %d finish marks unwritten (those deliveries are sent again after a restart)",
                self.unwritten.held,
                self.unwritten.unfinished,
            )

    @property
    def running(self) -> int:
        """Deliveries in hand now: sending, or waiting for their next attempt."""
        return len(self._running)

    async def idle(self) -> None:
        """Wait until nothing is running and the outbox is empty (tests; polls, never returns early)."""
        # Polled: on Redis the backlog also changes in other gateways, which no local event reports.
        while self._running or self.unwritten.held or await self.outbox.backlog() > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _run(self) -> None:
        while True:
            await self._room.wait()
            try:
                batch = await self.outbox.take(self._in_hand - len(self._running), TAKE_WAIT)
            except Exception as exc:  # the loop must outlive any failure: nothing else drains the outbox
                if self._error_log.allow():
                    unexpected = not isinstance(exc, StoreError)
                    log.warning("webhook outbox unavailable, retrying: %s", exc, exc_info=unexpected)
                await asyncio.sleep(RETRY_AFTER_ERROR)
                continue
            for delivery in batch:
                task = asyncio.create_task(self._deliver(delivery), name=f"delivery-{delivery.id}")
                self._running.add(task)
                task.add_done_callback(self._done)
            if len(self._running) >= self._in_hand:
                self._room.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._room.set()

    async def _deliver(self, delivery: Delivery) -> None:
        self._sending.add(delivery.id)
        try:
            await self._attempts(delivery)
        finally:  # only once its finish is written: a resend before then would be finished with it
            self._sending.discard(delivery.id)

    async def _attempts(self, delivery: Delivery) -> None:
        try:
            delivered = await self._send(delivery)
        except asyncio.CancelledError:
            raise  # shutdown: stays in the outbox
        except Exception:  # a bug in send must not resend the same delivery forever
            log.exception(
                "webhook %r delivery %s failed unexpectedly; given up", delivery.handler, delivery.id
            )
            delivered = False
        if not delivered and delivery.reservation:
            await cooldown.release(self._store, delivery.reservation, delivery.id)
        await self.unwritten.finish(delivery.id)  # kept and written again if the outbox refuses it
