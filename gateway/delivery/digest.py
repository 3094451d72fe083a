"""Digest cooldowns (`cooldown_mode: "digest"`): suppressed events counted in the store under the
cooldown's holder (so every gateway on Redis adds to one digest), and the one timer per cooldown, held by
the gateway that reserved it, that hands the digest over when it ends (a graceful stop: at once). It
renders and submits nothing itself: the handler's `fire` callback hands the digest to the Deliverer.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from gateway.delivery import envelope
from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.base import Store

log = get_logger("delivery.digest")

PREFIX = "webhook.digest."
# Digest timers pending in one gateway at once (one per cooldown in force that this gateway reserved);
# past it a new cooldown gets no timer, and its suppressed events are dropped as in "drop" mode.
MAX_PENDING = 10_000
# The timer fires this long after the cooldown ends, so that an event counted just before the end
# (its SET NX lost, its count not yet written) is in the digest rather than lost.
GRACE = 0.25
# Counters outlive the cooldown by this much: a gateway that stopped holding a timer leaves nothing behind.
KEEP = 60.0
_LOG = Throttle(10.0)


@dataclass(frozen=True, slots=True)
class Suppressed:
    """What a digest says: how many were suppressed, when the first and last were, and the last one."""

    count: int
    first: float  # Unix time
    last: float
    event: str
    body: bytes  # the last suppressed event's body, as it would have been sent
    request_id: str


async def count(
    store: Store, reservation: str, seconds: int, event: str, body: bytes, request_id: str
) -> bool:
    """Count one event suppressed by `reservation`'s holder; False when not counted: the reservation
    ended between the refused SET NX and now, or the store failed (logged, throttled), and the event is
    dropped as in "drop" mode."""
    try:
        holder = await store.get(reservation)
        if holder is None:
            return False
        base, now, ttl = PREFIX + holder, time.time(), seconds + KEEP
        if await store.incr(base + ".count", ttl) == 1:
            await store.set(base + ".first", repr(now), ttl)
        body64 = base64.b64encode(body).decode()
        last = {"time": now, "event": event, "body": body64, "request_id": request_id}
        await store.set(base + ".last", json.dumps(last, separators=(",", ":")), ttl)
    except StoreError as exc:
        if _LOG.allow("count"):
            log.warning("a suppressed webhook event was not counted in its digest: %s", exc)
        return False
    return True


async def collect(store: Store, holder: str) -> Suppressed | None:
    """The digest counted under `holder`, taken out of the store; None when nothing was suppressed."""
    base = PREFIX + holder
    counted, first, last = [await store.get(base + s) for s in (".count", ".first", ".last")]
    for suffix in (".count", ".first", ".last"):
        await store.delete(base + suffix)
    if not counted or last is None:
        return None
    raw = json.loads(last)
    return Suppressed(
        count=int(counted),
        first=float(first) if first else float(raw["time"]),
        last=float(raw["time"]),
        event=str(raw["event"]),
        body=base64.b64decode(raw["body"]),
        request_id=str(raw.get("request_id", "")),
    )


def message(
    found: Suppressed, cloudevents: bool, delivery_id: str
) -> tuple[bytes, tuple[tuple[str, str], ...]]:
    """The digest delivery's body (the last suppressed event's, carrying the digest) and the headers
    that say it whatever the body is."""
    body = envelope.with_digest(found.body, cloudevents, delivery_id, found.count, found.first, found.last)
    headers = (
        ("X-Tyk-Suppressed-Count", str(found.count)),
        ("X-Tyk-First-Suppressed", envelope.rfc3339(found.first)),
        ("X-Tyk-Last-Suppressed", envelope.rfc3339(found.last)),
    )
    return body, headers


Fire = Callable[[Suppressed], Awaitable[None]]
# Pending timers per gateway, keyed by its store (one per gateway, even several in one test process):
# holder -> (its timer, what it fires).
_PENDING: weakref.WeakKeyDictionary[Store, dict[str, tuple[asyncio.Task[None], Fire]]] = (
    weakref.WeakKeyDictionary()
)


def arm(store: Store, holder: str, seconds: float, fire: Fire) -> bool:
    """Start the timer of `holder`'s cooldown: after `seconds` (+ GRACE) its digest, if any, goes to
    `fire`. False (logged, throttled) when MAX_PENDING timers are already pending."""
    pending = _PENDING.setdefault(store, {})
    if len(pending) >= MAX_PENDING:
        if _LOG.allow("full"):
            log.warning(
                "%d webhook digests pending: a new cooldown's suppressed events are dropped", MAX_PENDING
            )
        return False
    task = asyncio.get_running_loop().create_task(_later(store, holder, seconds + GRACE, fire))
    pending[holder] = (task, fire)
    task.add_done_callback(lambda _: pending.pop(holder, None))
    return True


async def _later(store: Store, holder: str, seconds: float, fire: Fire) -> None:
    await asyncio.sleep(seconds)  # the cooldown's own length: a timer, not a wait for something
    await _send(store, holder, fire)


async def _send(store: Store, holder: str, fire: Fire) -> None:
    try:
        found = await collect(store, holder)
        if found is not None:
            await fire(found)
    except (StoreError, ValueError, KeyError) as exc:
        if _LOG.allow("send"):
            log.warning("webhook digest %s not sent: %s", holder, exc)


def pending(store: Store) -> int:
    return len(_PENDING.get(store, {}))


async def flush(store: Store, timeout: float) -> int:
    """A graceful stop (events no longer fire): every pending digest handed over now, with what was
    counted so far, within `timeout` seconds; those left then are lost (logged). How many were sent."""
    timers = dict(_PENDING.pop(store, {}))  # a copy: cancelled timers remove themselves from theirs
    for task, _ in timers.values():
        task.cancel()
    sent = 0
    try:
        async with asyncio.timeout(timeout):
            for holder, (_, fire) in timers.items():
                await _send(store, holder, fire)
                sent += 1
    except TimeoutError:
        log.warning("%d webhook digests not sent before the stop's deadline", len(timers) - sent)
    return sent
