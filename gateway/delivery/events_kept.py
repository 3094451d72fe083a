"""Accepted events kept for `events.retention` (`GET /tyk/events`), and replayed to a webhook added later
(`POST /tyk/events/replay`): each kept event rendered by that webhook's handler and submitted to the
Deliverer under a webhook-id fixed by (event id, webhook id), so a replay repeated is one message.

`note` is the bus's keep hook: a counter check and a list append, never I/O (the record is made at the
flush); past `per_second` events a second the rest are counted, not kept. How an event is rebuilt and
rendered is the caller's (app/event_side.py): this module names no event or handler type.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from gateway.delivery.deliverer import Deliverer
from gateway.delivery.history import Filter
from gateway.delivery.model import Delivery, new_id
from gateway.delivery.replay import DONE_TTL, Replayed, Replayer
from gateway.delivery.retained import RetainedLog
from gateway.store.base import Store

# Events kept a second at most: a flood of refusals must not become a flood of writes (at 1,000 a second
# keeping cost S3 6% of its requests; at 100 what the benchmark cannot tell from noise).
PER_SECOND = 100
PAGE = 1_000

# A kept event's record -> the Delivery the webhook renders for it (None: nothing, e.g. a bad record).
Render = Callable[[dict[str, Any]], Awaitable[Delivery | None]]


def record(item: tuple[str, Any]) -> dict[str, Any]:
    """What is kept of an EventMessage: type, API, org, its meta as templates see it (times as RFC 3339,
    the originating request left out: it may carry credentials), and when it fired."""
    event_id, msg = item
    meta = {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in msg.meta.go_fields().items()
        if name != "OriginatingRequest"
    }
    return {
        "id": event_id,
        "type": str(msg.type),
        "api_id": msg.api_id,
        "org_id": msg.org_id,
        "meta": meta,
        "timestamp": msg.timestamp.timestamp(),
    }


class KeptEvents:
    def __init__(
        self, log: RetainedLog, per_second: int = PER_SECOND, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.log = log
        self._per_second = per_second
        self._clock = clock
        self._second = 0
        self._count = 0
        self.dropped = 0  # events past the rate bound, not kept

    def room(self) -> bool:
        """Whether an event noted now would be kept (the bus asks before an event no handler wants is
        built: past the bound in a flood, building it would be wasted on the request path)."""
        return int(self._clock()) != self._second or self._count < self._per_second

    def note(self, msg: Any) -> None:
        now = int(self._clock())
        if now != self._second:
            self._second, self._count = now, 0
        if self._count >= self._per_second:
            self.dropped += 1
            return
        self._count += 1
        event_id = "evt_" + new_id()[4:]
        self.log.append((event_id, msg), key=event_id)

    async def query(self, want: Filter) -> tuple[list[dict[str, Any]], str | None]:
        """Kept events matching `want` (its event, api_id, since, until), newest first, at most its limit,
        and the position to page on from."""
        out: list[dict[str, Any]] = []
        before = want.before
        while True:
            page = await self.log.newest(before, PAGE)
            for position, found in page:
                before = position
                if (
                    (want.event is None or found.get("type") == want.event)
                    and (want.api_id is None or found.get("api_id") == want.api_id)
                    and (want.since is None or found.get("timestamp", 0) >= want.since)
                    and (want.until is None or found.get("timestamp", 0) < want.until)
                ):
                    out.append(found)
                    if len(out) >= want.limit:
                        return out, position
            if len(page) < PAGE:
                return out, None

    async def replay(
        self,
        render: Render,
        webhook_id: str,
        want: Filter,
        request_id: str,
        deliverer: Deliverer,
        store: Store,
        retention: float,
    ) -> Replayed:
        """Render and submit each kept event matching `want` (oldest of the page first), leaving out
        those this request id already replayed to this webhook."""
        found, position = await self.query(want)
        out = Replayed(next=position)
        ttl = retention if retention > 0 else DONE_TTL
        for kept in reversed(found):
            digest = hashlib.sha256(f"{kept['id']}\0{webhook_id}".encode()).hexdigest()[:32]
            delivery_id = f"msg_replay_{digest}"  # the same for every replay of this event to this webhook
            done = Replayer.done_key(request_id, delivery_id) if request_id else ""
            if done and await store.get(done) is not None:
                continue
            delivery = await render(kept)
            if delivery is None:
                out.missing.append(str(kept["id"]))
                continue
            await deliverer.submit(replace(delivery, id=delivery_id, reservation="", accepted=time.time()))
            out.resent.append(delivery_id)
            if done:
                await store.set(done, "1", ttl=ttl)
        return out


class Catch:
    """A Submitter that keeps the Delivery a handler renders, sending nothing."""

    def __init__(self) -> None:
        self.caught: Delivery | None = None

    async def submit(self, delivery: Delivery) -> None:
        self.caught = delivery
