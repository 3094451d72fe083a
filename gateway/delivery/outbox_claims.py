"""Who holds which pending entry of the Redis outbox's group: the heartbeat that keeps ours fresh (XCLAIM
to ourselves, JUSTID, every third of the claim idle), the search for strays (pending under our name, not
being sent) and the takeover of others' entries idle past the claim idle, held back one claim idle after
a reconnect. It decodes, hands out and finishes nothing: RedisOutbox does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.typing import StreamIdT

from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.tasks import cancel_and_wait

log = get_logger("delivery.outbox")

# Scan for abandoned entries at most this often (and at least twice per claim idle).
CLAIM_SCAN_MAX = 30.0
# A heartbeat that failed is tried again this soon (Redis is back: refresh before anyone else claims).
BEAT_RETRY = 0.5
PAGE = 500  # entries per XPENDING or XCLAIM call

Call = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]


class Claims:
    def __init__(
        self,
        client: Redis | RedisCluster,
        stream: str,
        group: str,
        consumer: str,
        claim_idle: float,
        call: Call,
        held: Callable[[], Collection[str]],
        on_strays: Callable[[], None],
    ) -> None:
        self._client, self._stream, self._group, self._consumer = client, stream, group, consumer
        self._claim_idle = claim_idle
        self._claim_idle_ms = max(1, round(claim_idle * 1000))
        self._call = call
        self._held = held  # the stream entries we are sending (or finished and could not yet remove)
        self._on_strays = on_strays
        # A third of the claim idle: two beats in a row may fail before another gateway sees us idle.
        self.beat_every = claim_idle / 3
        self._scan_every = min(claim_idle / 2, CLAIM_SCAN_MAX)
        self._cursor = "0-0"
        self._next_scan = 0.0
        self._quiet_until = 0.0
        self._task: asyncio.Task[None] | None = None
        self._error_log = Throttle(60.0)

    def reconnected(self) -> None:
        """Redis answers again after failing. The owners of entries that now look idle were most likely
        cut off with us (a stalled Redis, a failover) and their heartbeats with them: take over nothing
        until they have had a claim idle to refresh theirs."""
        self._quiet_until = time.monotonic() + self._claim_idle

    async def abandoned(self, count: int, mine: Collection[str]) -> list[Any] | None:
        """Entries idle past the claim idle in another consumer's hands, now ours (not those in `mine`);
        None when no scan is due or a full scan found nothing."""
        now = time.monotonic()
        if now < self._next_scan or now < self._quiet_until:
            return None
        reply = await self._call(
            lambda: self._client.xautoclaim(
                self._stream, self._group, self._consumer, self._claim_idle_ms, self._cursor, count
            )
        )
        self._cursor = str(reply[0])
        entries = [(entry, fields) for entry, fields in reply[1] if entry not in mine]
        if entries:
            log.info("outbox %s: took over %d abandoned webhook deliveries", self._stream, len(entries))
            return entries
        if self._cursor == "0-0":
            self._next_scan = now + self._scan_every
            return None
        return []

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beating(), name=f"outbox-heartbeat-{self._consumer}")

    async def close(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _beating(self) -> None:
        pause = self.beat_every
        while True:
            await asyncio.sleep(pause)
            try:
                await self.beat()
                pause = self.beat_every
            except Exception as exc:  # the heartbeat must outlive any failure: it guards every send
                pause = min(self.beat_every, BEAT_RETRY)
                if self._error_log.allow():
                    unexpected = not isinstance(exc, StoreError)
                    log.warning("outbox %s: heartbeat failed: %s", self._stream, exc, exc_info=unexpected)

    async def beat(self) -> None:
        """Refresh the entries we hold and still own; report strays. An entry another gateway took over
        (we were cut off past the claim idle) is not claimed back: it is in its hands now."""
        held = set(self._held())
        pending = await self._own_pending()
        keep: list[StreamIdT] = [entry for entry in pending if entry in held]
        for start in range(0, len(keep), PAGE):
            ids = keep[start : start + PAGE]
            await self._call(
                partial(self._client.xclaim, self._stream, self._group, self._consumer, 0, ids, justid=True)
            )
        now_held = set(self._held())  # and what was accepted while we asked
        strays = [entry for entry in pending if entry not in held and entry not in now_held]
        if strays:
            # Read by us in a reply we never saw (or taken over and not yet accepted): read them again.
            log.info("outbox %s: %d pending entries of ours not being sent", self._stream, len(strays))
            self._on_strays()

    async def _own_pending(self) -> list[str]:
        """Every entry pending under our consumer name, oldest first."""
        found: list[str] = []
        start = "-"
        while True:
            page = await self._call(
                partial(
                    self._client.xpending_range,
                    self._stream,
                    self._group,
                    start,
                    "+",
                    PAGE,
                    consumername=self._consumer,
                )
            )
            found += [str(p["message_id"]) for p in page]
            if len(page) < PAGE:
                return found
            start = "(" + found[-1]  # exclusive: after the last one seen
