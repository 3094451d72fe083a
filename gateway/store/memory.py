"""The embedded store: one process, values in a dict, every change journalled to `<path>/store.aof`.

It owns the journal's format, its replay and its compaction. It must not be shared between processes
(a lock refuses a second opener) and it never awaits: each method is a dict operation plus one
buffered write, cheap enough for the request path.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from gateway.errors import StoreError
from gateway.log import get_logger
from gateway.store.files import open_journal, open_locked, read_lines, rewrite
from gateway.store.window import WindowStorage

log = get_logger("store")

JOURNAL = "store.aof"
LOCK = "store.lock"
# Compact while running once the journal has this many lines and more than twice the live keys: a
# counter bumped on every request must not grow the file without bound between restarts.
COMPACT_MIN_LINES = 100_000


class MemoryStore:
    """The embedded, durable store (the default `storage.type`).

    Durability: each change is one JSON line appended and flushed to the OS, with no fsync per
    operation: it survives the process crashing or being killed, not a power cut in the last moments.
    Counter steps (rate and quota counts) are flushed together at the end of the event-loop turn, so
    a crash can lose the counts of that one turn; everything else is flushed before its call returns.
    On open the journal is replayed (expired keys skipped; a torn last line, left by a crash mid-write,
    is ignored with a warning) and rewritten compacted through a temporary file and `os.replace`.
    A corrupt line before the last is fatal: skipping it could bring back a deleted (revoked) key.

    Time: TTLs run on `time.monotonic`, so a wall-clock step never expires keys early; deadlines are
    persisted as wall-clock seconds so they keep their meaning across a restart. `clock` (a callable
    returning wall seconds) replaces both, for tests.

    One store per folder: opening a folder that is already open, in this process or another, raises
    StoreError. Use `storage.type: "redis"` to share state between processes.
    """

    name = "embedded"

    def __init__(self, path: str | os.PathLike[str], *, clock: Callable[[], float] | None = None) -> None:
        self.path = Path(path)
        self._now: Callable[[], float] = clock or time.monotonic
        # wall = internal + offset, fixed at open so every deadline written in one run agrees.
        self._offset = (clock or time.time)() - self._now()
        self._values: dict[str, str] = {}
        self._deadlines: dict[str, float] = {}
        # (deadline, key) heap; entries may be stale, but every key in _deadlines has one due no later.
        self._expiries: list[tuple[float, str]] = []
        self._journal: IO[str] | None = None
        self._lines = 0
        self._flush_due = False  # counter steps written but not yet flushed (see _commit)
        self._limits: Any = None
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
        if not await self.rate_limit_storage().acquire_entry(window, limit, expiry):
            return False, 0, 0.0
        count, reset = await self.incr_window(counter, period)
        return True, count, reset

    def rate_limit_storage(self) -> Any:
        if self._limits is None:
            self._limits = WindowStorage()
        return self._limits

    def pubsub(self) -> None:
        return None  # one process: nothing to tell anyone

    async def ping(self) -> bool:
        return self._journal is not None

    async def close(self) -> None:
        journal, self._journal = self._journal, None
        if journal is None:
            return
        try:
            journal.close()
        except OSError as exc:
            raise StoreError(f"embedded store {self.path / JOURNAL}: close failed: {exc}") from exc
        finally:
            self._lock.close()
            # limits' MemoryStorage leaves an expiry task behind; it must not outlive the store.
            timer = getattr(self._limits, "timer", None)
            if timer is not None and not timer.done():
                timer.cancel()

    # -- internals ---------------------------------------------------------------------------------

    def _tick(self) -> float:
        """The current internal time, after dropping every key that has expired by then."""
        if self._journal is None:
            raise StoreError(f"embedded store {self.path} is closed")
        now = self._now()
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            deadline = self._deadlines.get(key)
            if deadline is None:
                continue
            if deadline <= now:
                del self._values[key], self._deadlines[key]
            else:
                heapq.heappush(heap, (deadline, key))
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
        line = json.dumps(["del", key]) + "\n" if value is None else self._record(key, value, deadline)
        journal = self._journal
        assert journal is not None  # _tick() ran first
        try:
            journal.write(line)
            if not counter:
                journal.flush()
            elif not self._flush_due:
                asyncio.get_running_loop().call_soon(self._flush)
                self._flush_due = True
        except (OSError, ValueError) as exc:
            raise StoreError(f"embedded store {self.path / JOURNAL}: write failed: {exc}") from exc
        self._lines += 1
        if value is None:
            del self._values[key]
            self._deadlines.pop(key, None)
        else:
            self._values[key] = value
            previous = self._deadlines.pop(key, None)
            if deadline is not None:
                self._deadlines[key] = deadline
                if previous is None or deadline < previous:
                    heapq.heappush(self._expiries, (deadline, key))
        if self._lines > COMPACT_MIN_LINES and self._lines > 2 * len(self._values):
            try:
                self._compact()
            except StoreError as exc:  # the change itself is safely journalled; compaction can wait
                log.warning("%s; trying again later", exc)
                self._lines = 0

    def _flush(self) -> None:
        self._flush_due = False
        if self._journal is not None:
            try:
                self._journal.flush()
            except (OSError, ValueError) as exc:  # the next change's flush reports it to its caller
                log.warning("embedded store %s: flush failed: %s", self.path / JOURNAL, exc)

    def _record(self, key: str, value: str, deadline: float | None) -> str:
        wall = None if deadline is None else deadline + self._offset
        return json.dumps(["set", key, value, wall]) + "\n"

    def _replay(self) -> None:
        file = self.path / JOURNAL
        lines = read_lines(file, "embedded store")
        for number, raw in enumerate(lines, 1):
            record = _parse(raw)
            if record is None:
                if number == len(lines):
                    log.warning(
                        "embedded store %s: ignored torn last line %d (a crash mid-write)", file, number
                    )
                    break
                raise StoreError(
                    f"embedded store {file}: line {number} is corrupt; repair or remove that line to start"
                )
            key, value, wall = record
            if value is None:
                self._values.pop(key, None)
                self._deadlines.pop(key, None)
                continue
            self._values[key] = value
            if wall is None:
                self._deadlines.pop(key, None)
            else:
                self._deadlines[key] = wall - self._offset
        # Keys already expired are dropped by the first _tick() and never reach the compacted file.
        self._expiries = [(deadline, key) for key, deadline in self._deadlines.items()]
        heapq.heapify(self._expiries)

    def _compact(self) -> None:
        """Rewrite the journal as one line per live key, atomically."""
        file, now = self.path / JOURNAL, self._now()
        alive = (
            self._record(key, value, deadline)
            for key, value in self._values.items()
            if (deadline := self._deadlines.get(key)) is None or deadline > now
        )
        if self._journal is not None:
            self._journal.close()  # also writes out counter steps still waiting for their flush
            self._journal = None
        try:
            rewrite(file, alive, "embedded store")
        finally:
            self._journal = open_journal(file, "embedded store")
        self._lines = len(self._values)


def _parse(raw: bytes) -> tuple[str, str | None, float | None] | None:
    """One journal line as (key, value or None for a delete, wall deadline), or None if corrupt."""
    try:
        record = json.loads(raw)
    except ValueError:  # also a UnicodeDecodeError from a torn multi-byte character
        return None
    match record:
        case ["del", str(key)]:
            return key, None, None
        case ["set", str(key), str(value), None]:
            return key, value, None
        case ["set", str(key), str(value), int() | float() as wall] if not isinstance(wall, bool):
            return key, value, float(wall)
    return None
