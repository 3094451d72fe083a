"""The embedded store: one process, values in a dict, every change journalled to `<path>/store.aof`.

It owns what the journal's records mean (keys: keyspace.py; rate-limit windows: window.py), when it is
replayed and compacted. It must not be shared between processes (a lock refuses a second opener) and it
never awaits: each method is a dict operation plus one buffered write, cheap enough for the request path.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.files import open_locked
from gateway.store.journal import ACCEPT, Journal
from gateway.store.keyspace import Keyspace
from gateway.store.window import WindowStorage

log = get_logger("store")

JOURNAL = "store.aof"
LOCK = "store.lock"
# Compact while running once the journal has this many lines and more than twice the live records: a
# counter bumped on every request must not grow the file without bound between restarts. Two lines a
# request on a keyed API (its window hit and its quota step), so about every 100,000 requests there.
COMPACT_MIN_LINES = 200_000


class MemoryStore:
    """The embedded, durable store (the default `storage.type`).

    Durability: each change is one JSON line appended and flushed to the OS, with no fsync per
    operation: it survives the process crashing or being killed, not a power cut in the last moments.
    Counter steps (quota counts and rate-limit window hits) are flushed together at the end of the
    event-loop turn, so a kill can lose the counts of that one turn (requests not yet answered);
    everything else is flushed before its call returns. On open the journal is checked against its
    checkpoint (journal.py: a cut or emptied file refuses to open unless `accept_loss`), replayed
    (expired keys skipped; a torn last line, left by a crash mid-write, ignored with a warning) and
    rewritten compacted. A corrupt line before the last is fatal: skipping it could bring back a deleted
    (revoked) key.

    Time: TTLs run on `time.monotonic`, so a wall-clock step never expires keys early; deadlines are
    persisted as wall-clock seconds so they keep their meaning across a restart. `clock` (a callable
    returning wall seconds) replaces both, for tests. Rate-limit windows run on wall time, as `limits`.

    One store per folder: opening a folder that is already open, in this process or another, raises
    StoreError. Use `storage.type: "redis"` to share state between processes.
    """

    name = "embedded"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] | None = None,
        accept_loss: bool = False,
    ) -> None:
        self.path = Path(path)
        self._now: Callable[[], float] = clock or time.monotonic
        # wall = internal + offset, fixed at open so every deadline written in one run agrees.
        self._keys = Keyspace((clock or time.time)() - self._now())
        self._values = self._keys.values  # the same dict: one attribute lookup less per call
        self._deadlines = self._keys.deadlines
        self._journal = Journal(self.path / JOURNAL, "embedded store", accept_loss=accept_loss)
        self._flush_due = False  # counter steps written but not yet flushed (see _commit)
        self._flush_log = Throttle(10.0)
        self._limits = WindowStorage(self._journal_hit)
        busy = (
            f"embedded store {self.path} is already open in this or another process; it cannot be"
            ' shared (use storage.type "redis" to share state)'
        )
        self._lock = open_locked(self.path, LOCK, "embedded store", busy, self._replay, self._compact)

    # -- the Store protocol ------------------------------------------------------------------------

    async def get(self, key: str) -> str | None:
        self._tick()
        return self._values.get(key)

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        now = self._tick()
        self._commit(key, value, now + ttl if ttl is not None and ttl > 0 else None)

    async def set_nx(self, key: str, value: str, ttl_ms: int) -> bool:
        now = self._tick()
        if key in self._values:
            return False
        self._commit(key, value, now + ttl_ms / 1000 if ttl_ms > 0 else None)
        return True

    async def lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        now = self._tick()
        if self._values.get(key, owner) != owner:
            return False
        self._commit(key, owner, now + ttl_ms / 1000 if ttl_ms > 0 else None)
        return True

    async def delete(self, key: str) -> bool:
        self._tick()
        if key not in self._values:
            return False
        self._commit(key, None, None)
        return True

    async def release(self, key: str, value: str) -> bool:
        if await self.get(key) != value:  # get drops the key first if it has expired
            return False
        return await self.delete(key)

    async def keys(self, prefix: str) -> list[str]:
        self._tick()
        return sorted(key for key in self._values if key.startswith(prefix))

    async def incr(self, key: str, ttl: float | None = None) -> int:
        now = self._tick()
        current = self._values.get(key)
        if current is None:
            value, deadline = 1, (now + ttl if ttl is not None and ttl > 0 else None)
        else:
            value, deadline = self._integer(key, current) + 1, self._deadlines.get(key)
        self._commit(key, str(value), deadline, counter=True)
        return value

    async def incr_window(self, key: str, period: float) -> tuple[int, float]:
        now = self._tick()
        current = self._values.get(key)
        deadline = self._deadlines.get(key)
        if current is not None and deadline is not None:
            value = self._integer(key, current) + 1
        elif period <= 0:
            value = (self._integer(key, current) if current is not None else 0) + 1
        else:
            value, deadline = 1, now + period
        # Journalled like any change, so quota counters and their periods survive a restart.
        self._commit(key, str(value), deadline, counter=True)
        return value, (deadline - now if deadline is not None else 0.0)

    async def hit_and_count(
        self, window: str, limit: int, expiry: int, counter: str, period: float
    ) -> tuple[bool, int, float]:
        if not await self._limits.acquire_entry(window, limit, expiry):
            return False, 0, 0.0
        count, reset = await self.incr_window(counter, period)
        return True, count, reset

    def rate_limit_storage(self) -> Any:
        return self._limits

    def pubsub(self) -> None:
        return None  # one process: nothing to tell anyone

    async def ping(self) -> bool:
        return self._journal.is_open

    async def close(self) -> None:
        if not self._journal.is_open:
            return
        try:
            self._journal.close()  # every line fsynced, then checkpointed: a later cut is seen
        finally:
            self._lock.close()
            # limits' MemoryStorage leaves an expiry task behind; it must not outlive the store.
            timer = self._limits.timer
            if timer is not None and not timer.done():
                timer.cancel()

    # -- internals ---------------------------------------------------------------------------------

    def _tick(self) -> float:
        """The current internal time, after dropping every key that has expired by then."""
        if not self._journal.is_open:
            raise StoreError(f"embedded store {self.path} is closed")
        now = self._now()
        self._keys.expire(now)
        return now

    @staticmethod
    def _integer(key: str, current: str) -> int:
        # Redis's rule: only a canonical integer ("5", not " 5", "+5" or "05") can be incremented.
        if not (current.removeprefix("-").isdecimal() and str(int(current)) == current):
            raise StoreError(f"embedded store: {key!r} does not hold an integer")
        return int(current)

    def _commit(self, key: str, value: str | None, deadline: float | None, *, counter: bool = False) -> None:
        """Journal one change, then apply it. A counter step is flushed at the end of this event-loop
        turn, with every other step of that turn (one write instead of one per request); any other
        change is flushed before the call returns."""
        self._write(self._keys.record(key, value, deadline), counter)
        self._keys.put(key, value, deadline)
        self._maybe_compact()

    def _journal_hit(self, record: list[Any]) -> None:
        """A rate-limit window's hit, journalled as a counter step (the window applies it itself)."""
        self._write(record, True)
        self._maybe_compact()

    def _write(self, record: list[Any], counter: bool) -> None:
        self._journal.append(record, flush=not counter)
        if counter and not self._flush_due:
            asyncio.get_running_loop().call_soon(self._flush)
            self._flush_due = True

    def _maybe_compact(self) -> None:
        lines = self._journal.lines
        if lines > COMPACT_MIN_LINES and lines > 2 * (len(self._values) + self._limits.count):
            try:
                self._compact()
            except StoreError as exc:  # the change itself is safely journalled; compaction can wait
                log.warning("%s; trying again later", exc)

    def _flush(self) -> None:
        self._flush_due = False
        try:
            self._journal.flush()
        except StoreError as exc:  # the next change's flush reports it to its caller
            if self._flush_log.allow():  # once per outage (every 10 s), not once per event-loop turn
                log.warning("%s", exc)

    def _replay(self) -> None:
        records = self._journal.load()
        for number, fields in records:
            if fields is not None and (self._keys.replay(fields) or self._limits.replay(fields)):
                continue
            if number == len(records):
                log.warning(
                    "embedded store %s: ignored torn last line %d (a crash mid-write)",
                    self._journal.file,
                    number,
                )
                break
            raise StoreError(
                f"embedded store {self._journal.file}: line {number} is corrupt; repair it, or remove it and"
                f" {ACCEPT}"
            )
        self._keys.reindex()

    def _compact(self) -> None:
        """Rewrite the journal as one line per live key and per window still holding hits, atomically."""
        records: Iterator[list[Any]] = chain(self._keys.records(self._now()), self._limits.records())
        self._journal.rewrite(records)
