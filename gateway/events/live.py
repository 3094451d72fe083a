"""The live feed: the last events fired (a bounded ring) and each new one as it fires, for the Dashboard.

The bus notes every event as it fires: an append (and a put per follower); the LiveEvent, redacted and
JSON-safe, is made by whoever reads. Each follower has a bounded queue: one that reads slowly loses
events (counted), never slows firing. No I/O; nothing given out holds a raw key or originating request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from gateway.events.catalog import EventMessage
from gateway.log import redact_key

RECENT = 500  # events kept for a page that opens now
FOLLOWER_QUEUE = 1000  # events a follower may fall behind by before it loses some
_HIDDEN = ("OriginatingRequest",)  # the request's raw wire form: large, and it may carry a key


@dataclass(frozen=True)
class LiveEvent:
    seq: int  # 1 for the first event since start: a follower sees gaps where it lost some
    time: float  # Unix seconds it fired
    event: str
    api_id: str
    key: str  # redacted as logs are (`****abcd`); "" when the event has none
    message: str
    meta: dict[str, Any]  # the meta's JSON fields, keys redacted, without the originating request


def _redacted(value: Any) -> Any:
    return redact_key(value) if isinstance(value, str) and value else value


Noted = tuple[int, float, EventMessage]  # seq, Unix time, the event as fired
_PLAIN = (str, int, float, bool, type(None))


def to_live(seq: int, fired: float, msg: EventMessage) -> LiveEvent:
    meta = {
        name: _redacted(value) if name.lower() == "key" else value
        for name, value in msg.meta.json_fields().items()
        if name not in _HIDDEN
    }
    if not all(isinstance(v, _PLAIN) for v in meta.values()):
        # JSON-safe whatever a custom event or a host report put in its meta (datetimes, sets, objects).
        meta = json.loads(json.dumps(meta, default=str))
    key = getattr(msg.meta, "key", "")
    return LiveEvent(seq, fired, str(msg.type), msg.api_id, _redacted(key) or "", msg.meta.message, meta)


class Follower:
    """One reader of the feed (`LiveFeed.follow`): iterate it; `aclose` (or dropping it) ends it."""

    __slots__ = ("__weakref__", "_feed", "_queue", "dropped")

    def __init__(self, feed: LiveFeed) -> None:
        self._feed = feed
        self._queue: asyncio.Queue[Noted | None] = asyncio.Queue(FOLLOWER_QUEUE)
        self.dropped = 0  # events lost because this follower fell behind

    def offer(self, entry: Noted | None) -> None:
        if self._queue.full():  # tested, not caught: a reader that stalls must stay cheap to skip
            self.dropped += 1
            if entry is not None:
                return
            self._queue.get_nowait()  # the end must arrive: it takes the oldest event's place
        self._queue.put_nowait(entry)

    def __aiter__(self) -> Follower:
        return self

    async def __anext__(self) -> LiveEvent:
        entry = await self._queue.get()
        if entry is None:
            self._queue.put_nowait(None)  # every later read ends too
            raise StopAsyncIteration
        return to_live(*entry)

    async def aclose(self) -> None:
        self._feed.unfollow(self)
        self.offer(None)


class LiveFeed:
    def __init__(self, size: int = RECENT, clock: Callable[[], float] = time.time) -> None:
        self._ring: deque[Noted] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self._clock = clock
        # Weak: a follower its reader dropped without closing goes with it, never filling up here. Read
        # per event as a tuple made on each change (iterating a WeakSet costs more than the put).
        self._followers: dict[int, weakref.ref[Follower]] = {}
        self._snapshot: tuple[weakref.ref[Follower], ...] = ()
        self.closed = False

    def note(self, msg: EventMessage) -> None:
        """The bus's call for every event fired: synchronous, never blocks, never raises."""
        if msg.meta.originating_request:  # rare (a handler reads it): the ring must not hold 500 bodies
            msg = dataclasses.replace(msg, meta=dataclasses.replace(msg.meta, originating_request=""))
        entry = (next(self._seq), self._clock(), msg)
        self._ring.append(entry)
        for ref in self._snapshot:
            follower = ref()
            if follower is not None:
                follower.offer(entry)

    def recent(self) -> list[LiveEvent]:
        """The last events fired, oldest first."""
        return [to_live(*entry) for entry in list(self._ring)]

    def follow(self) -> AsyncIterator[LiveEvent]:
        """Each event fired from now on, as it fires; ends when the feed closes (gateway stop)."""
        follower = Follower(self)
        if self.closed:
            follower.offer(None)
        else:
            key = id(follower)
            self._followers[key] = weakref.ref(follower, lambda _: self._forget(key))
            self._snapshot = tuple(self._followers.values())
        return follower

    def unfollow(self, follower: Follower) -> None:
        self._forget(id(follower))

    def _forget(self, key: int) -> None:
        if self._followers.pop(key, None) is not None:
            self._snapshot = tuple(self._followers.values())

    @property
    def followers(self) -> int:
        return len(self._followers)

    def close(self) -> None:
        """Gateway stop: every follower's iteration ends once it has read what it was sent."""
        self.closed = True
        for ref in self._snapshot:
            follower = ref()
            if follower is not None:
                follower.offer(None)
        self._followers.clear()
        self._snapshot = ()
