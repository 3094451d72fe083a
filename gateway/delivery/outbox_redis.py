"""The Redis store's outbox: a Redis Stream with one consumer group that every gateway on the Redis joins.

`add` is XADD; `take` reads this consumer's own unfinished entries (read again after any failed command),
then entries a dead consumer left idle past `outbox_claim_idle` (outbox_claims.py), then new ones; `finish`
is XACK plus XDEL. After a master switch, a finish the new master lacks is done again, an add it lacks is
added again. It uses the store's client (the RedisStore closes it); every redis-py error is a StoreError.
"""

from __future__ import annotations

import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError, ResponseError

from gateway.delivery.model import Delivery
from gateway.delivery.outbox_claims import Claims
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.log import get_logger

log = get_logger("delivery.outbox")

STREAM = "tyk-gateway-outbox"
GROUP = "gateway"
FIELD = "delivery"
# A `take` blocks at most this long on Redis (and at most half the client's socket timeout).
MAX_BLOCK = 1.0
# Delivery ids finished lately, remembered against a failover that loses the finish (XACK, XDEL).
FINISHED_KEPT = 10_000
# Entries added in this many seconds before a switch is seen (at most RECENT_KEPT) are looked for on the
# new master: a switch is seen within seconds of the promotion (+switch-master, or a check every 5 s).
RECENT_SECONDS = 30.0
RECENT_KEPT = 10_000

T = TypeVar("T")


class RedisOutbox:
    durable = True

    def __init__(
        self,
        client: Redis | RedisCluster,
        codec: RecordCodec,
        consumer: str,
        *,
        claim_idle: float,
        timeout: float | None = None,
        failovers: Callable[[], int] = lambda: 0,
        address: str = "redis",
        stream: str = STREAM,
        group: str = GROUP,
    ) -> None:
        self.consumer = consumer
        self.stream = stream
        self.group = group
        self._client = client
        self._codec = codec
        self._address = address
        if timeout is None:  # the client's own socket timeout (a cluster client has no single pool)
            pool = getattr(client, "connection_pool", None)
            timeout = pool.connection_kwargs.get("socket_timeout") if pool is not None else None
        # A blocked read must end well before the socket timeout.
        self._max_block = min(MAX_BLOCK, float(timeout or 2 * MAX_BLOCK) / 2)
        self._taken: dict[str, str] = {}  # delivery id -> stream entry id, handed out and not finished
        # Delivery id -> the entry finished: a resend of the id is a new entry, and is sent.
        self._finished: OrderedDict[str, str] = OrderedDict()
        self._recent: OrderedDict[str, tuple[float, str, Delivery]] = OrderedDict()  # id -> when, entry
        self._own_cursor: str | None = "0"  # replaying our own unfinished entries until None
        # The store's count of master switches: after one, our pending list on the new master may hold
        # entries we finished on the old one (replicated before their finish), so it is read again.
        self._failovers = failovers
        self._failovers_seen = failovers()
        self._claims = Claims(
            client, stream, group, consumer, claim_idle, self._call, self._taken.values, self._replay
        )
        self._failing = False  # the last command failed: the next success is a reconnect
        self._group_ready = False
        self._closed = False

    async def add(self, delivery: Delivery) -> None:
        switches = self._failovers()
        entry = await self._call(lambda: self._client.xadd(self.stream, {FIELD: self._codec.dumps(delivery)}))
        self._recent[delivery.id] = (time.monotonic(), str(entry), delivery)  # until finished here
        if len(self._recent) > RECENT_KEPT:  # the age is looked at after a switch
            self._recent.popitem(last=False)
        if switches != self._failovers() and self._failovers_seen != switches:
            # A switch was seen, and maybe handled, while this XADD was in flight: it may have gone to the
            # old master after its last replication, and the handling missed it (it was not in `_recent`
            # yet). The next take looks for the recent adds on the new master again.
            self._failovers_seen = switches

    async def take(self, count: int, wait: float) -> list[Delivery]:
        if self._closed:
            return []
        self._claims.start()  # the heartbeat, from the first take: only a taker holds entries
        return await self._take(count, wait)

    async def _take(self, count: int, wait: float) -> list[Delivery]:
        if self._failovers_seen != (seen := self._failovers()):
            await self._add_lost()  # first: a failure here leaves the switch to be handled again
            self._failovers_seen, self._own_cursor = seen, "0"
        if self._own_cursor is not None:
            cursor = self._own_cursor
            batch = await self._read({self.stream: cursor}, count, None)
            self._own_cursor = batch[-1][0] if batch else None
            if batch:
                return await self._accept(batch)
        abandoned = await self._claims.abandoned(count, set(self._taken.values()))
        if abandoned is not None:
            return await self._accept(abandoned)
        block = max(1, round(min(wait, self._max_block) * 1000)) if wait > 0 else None
        return await self._accept(await self._read({self.stream: ">"}, count, block))

    async def finish(self, delivery_id: str) -> None:
        self._recent.pop(delivery_id, None)
        entry = self._taken.get(delivery_id)
        if entry is not None:
            self._finished[delivery_id] = entry
            if len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)
            # Forgotten only once removed: a finish that failed is tried again by the Deliverer, and
            # meanwhile the entry stays ours (never claimed back) and finished (never handed out again).
            await self._remove(entry)
            self._taken.pop(delivery_id, None)

    async def backlog(self) -> int:
        """Entries added and not finished, by any gateway."""
        return int(await self._call(lambda: self._client.xlen(self.stream)))

    async def oldest(self) -> float | None:
        first = await self._call(lambda: self._client.xrange(self.stream, count=1))  # finished: deleted
        return int(str(first[0][0]).split("-")[0]) / 1000 if first else None  # the id is its add time

    async def close(self) -> None:
        # The client belongs to the RedisStore, which closes it. Entries taken and not finished stay
        # pending under our consumer name: the next run with that name (or a claim) sends them.
        self._closed = True
        await self._claims.close()

    # -- internals ---------------------------------------------------------------------------------

    async def _read(self, streams: dict[Any, Any], count: int, block: int | None) -> list[Any]:
        reply: Any = await self._call(
            lambda: self._client.xreadgroup(self.group, self.consumer, streams, count=count, block=block)
        )
        if not reply:
            return []
        # RESP2 answers [[stream, entries]]; RESP3 {stream: entries}.
        return list(next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1])

    async def _accept(self, entries: list[Any]) -> list[Delivery]:
        taken: list[Delivery] = []
        for entry, fields in entries:
            raw = (fields or {}).get(FIELD)
            try:
                if raw is None:
                    raise ValueError("no delivery field (deleted)")
                delivery = self._codec.loads(raw)
            except ValueError as exc:
                log.warning("outbox %s: entry %s dropped (%s)", self.stream, entry, exc)
                await self._forget(entry)
                continue
            if self._finished.get(delivery.id) == entry:  # sent, and its finish lost to a failover
                await self._forget(entry)
            elif delivery.id not in self._taken:
                self._taken[delivery.id] = entry
                taken.append(delivery)
        return taken

    async def _forget(self, entry: str) -> None:
        # Not raised: the rest of the batch is handed out all the same. The failure re-arms the replay of
        # our pending list, which meets this entry again.
        with contextlib.suppress(StoreError):
            await self._remove(entry)

    async def _add_lost(self) -> None:
        """After a master switch: add again the entries we added lately, and have not taken or sent, that
        the new master lacks. One another gateway sent just before the switch is sent again, with the
        same webhook-id: at least once, as every outbox promises."""
        since = time.monotonic() - RECENT_SECONDS
        suspects = [
            (entry, delivery)
            for when, entry, delivery in self._recent.values()
            if when >= since and delivery.id not in self._taken
        ]
        if not suspects:
            return

        async def lookup() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for entry, _ in suspects:
                    pipe.xrange(self.stream, entry, entry)
                return list(await pipe.execute())

        found = await self._call(lookup)
        lost = [delivery for (_, delivery), hit in zip(suspects, found, strict=True) if not hit]
        for delivery in lost:
            await self.add(delivery)
        if lost:
            log.warning("outbox %s: %d added again: the new master lacked them", self.stream, len(lost))

    def _replay(self) -> None:
        """Read our own pending list again from its start, at the next take."""
        self._own_cursor = "0"

    async def _remove(self, entry: str) -> None:
        async def both() -> None:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, entry)
                pipe.xdel(self.stream, entry)
                await pipe.execute()

        await self._call(both)

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        """Run a command, creating the group first (and again if the stream was deleted under us)."""
        for attempt in (1, 2):
            try:
                if not self._group_ready:
                    await self._create_group()
                result = await command()
            except ResponseError as exc:
                if "NOGROUP" in str(exc) and attempt == 1:
                    self._group_ready = False
                    continue
                raise StoreError(f"redis {self._address}: outbox {self.stream}: {exc}") from exc
            except (RedisError, RedisClusterException, OSError) as exc:
                # The command may still run: a stalled Redis executes it once it resumes, after we gave up
                # on the reply. A read then leaves entries pending under our name that no one sends, so
                # our pending list is read again first once Redis answers, not left to a claim.
                self._failing, self._own_cursor = True, "0"
                raise StoreError(
                    f"redis {self._address}: outbox {self.stream}: {exc or type(exc).__name__}"
                ) from exc
            if self._failing:
                self._failing = False
                self._claims.reconnected()
            return result
        raise AssertionError("unreachable")

    async def _create_group(self) -> None:
        try:
            # From id 0: entries added before any gateway created the group are read too.
            await self._client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True
