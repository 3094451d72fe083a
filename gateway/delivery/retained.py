"""A retained log: records appended without waiting, written in batches by a background flush, kept
`retention` seconds and at most `limit` of them, read newest first by position and by key.

It owns the buffer (bounded: past `hold` the newest are dropped and counted), the flush loop, and the
Backend seam; retained_file.py and retained_redis.py own where records live and their trimming, as the
MemoryBackend here does for one process. It never decides what a record means: its users do.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, is_dataclass
from typing import Any, Protocol

from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.tasks import cancel_and_wait

log = get_logger("delivery.retained")

Record = dict[str, Any]
Entry = tuple[str, Record]  # (position, record): positions grow with each write, per log
Item = tuple[float, str | None, Record]  # (time appended, key or None, record)
FLUSH_EVERY = 0.2  # seconds between batches: records are small, a batch per flush keeps writes few
HOLD = 10_000  # records waiting for a flush; past it new ones are dropped (counted), never blocking
_POSITION = re.compile(r"\d{1,20}(-\d{1,20})?")


def valid_position(text: str) -> bool:
    """A cursor as positions are written (`123` on files and in memory, `1700000000000-0` on Redis)."""
    return _POSITION.fullmatch(text) is not None


def order(position: str) -> tuple[int, ...]:
    return tuple(int(part) for part in position.split("-"))


def _plain(item: Any) -> Record:
    """A dataclass (a delivery attempt) or a mapping, as a JSON object."""
    return asdict(item) if is_dataclass(item) and not isinstance(item, type) else dict(item)


class Backend(Protocol):
    async def write(self, batch: list[Item]) -> None:
        """Keep these, oldest first; trims what retention and the cap no longer allow. StoreError."""
        ...

    async def newest(self, before: str | None, count: int) -> list[Entry]:
        """Up to `count` records older than position `before` (None: from the newest), newest first."""
        ...

    async def get(self, key: str) -> Record | None:
        """The newest record written under `key`, while retained."""
        ...

    async def close(self) -> None: ...


class MemoryBackend:
    """One process's records in memory: retention 0 (nothing written anywhere) and tests."""

    def __init__(self, retention: float, limit: int, clock: Callable[[], float] = time.time) -> None:
        self._retention, self._limit, self._clock = retention, limit, clock
        self._items: deque[tuple[int, float, str | None, Record]] = deque()
        self._keys: dict[str, tuple[int, Record]] = {}
        self._seq = 0

    async def write(self, batch: list[Item]) -> None:
        for when, key, record in batch:
            self._seq += 1
            self._items.append((self._seq, when, key, record))
            if key is not None:
                self._keys[key] = (self._seq, record)
        self._trim()

    def _trim(self) -> None:
        oldest = self._clock() - self._retention if self._retention > 0 else None
        while self._items and (
            len(self._items) > self._limit or (oldest is not None and self._items[0][1] < oldest)
        ):
            seq, _, key, _ = self._items.popleft()
            if key is not None and self._keys.get(key, (0,))[0] == seq:
                del self._keys[key]

    async def newest(self, before: str | None, count: int) -> list[Entry]:
        self._trim()
        below = int(before.split("-")[-1]) if before is not None else self._seq + 1
        out: list[Entry] = []
        for seq, _, _, record in reversed(self._items):
            if seq < below:
                out.append((str(seq), record))
                if len(out) >= count:
                    break
        return out

    async def get(self, key: str) -> Record | None:
        self._trim()
        found = self._keys.get(key)
        return None if found is None else found[1]

    async def close(self) -> None:
        return None


class RetainedLog:
    """`append` is synchronous and cheap (a list append); `encode` turns an item into its record at flush
    time, off the caller's path, and `decode` turns a record read back into what `get` returns."""

    def __init__(
        self,
        name: str,
        backend: Backend,
        *,
        encode: Callable[[Any], Record] | None = None,
        decode: Callable[[Record], Any] = lambda record: record,
        hold: int = HOLD,
        every: float = FLUSH_EVERY,
    ) -> None:
        self.name = name
        self.backend = backend
        self._encode, self._decode = encode or _plain, decode
        self._hold, self._every = hold, every
        self._buffer: list[tuple[float, str | None, Any]] = []
        self._lock = asyncio.Lock()  # one flush at a time: batches are written in order
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._error_log = Throttle(10.0)
        self.dropped = 0  # items refused because the buffer was full (the backend down for long)

    def append(self, item: Any, key: str | None = None) -> None:
        if len(self._buffer) >= self._hold:
            self.dropped += 1
            if self._error_log.allow("dropped"):
                log.warning("retained %s: buffer full, %d records dropped so far", self.name, self.dropped)
            return
        self._buffer.append((time.time(), key, item))
        self._wake.set()

    def amend(self, match: Callable[[Any], bool], change: Callable[[Any], Any]) -> bool:
        """Change the newest item still waiting for its flush that `match`es; False when none does."""
        for i in reversed(range(len(self._buffer))):
            when, key, item = self._buffer[i]
            if match(item):
                self._buffer[i] = (when, key, change(item))
                return True
        return False

    async def flush(self) -> None:
        """Write what is waiting (readers call it first: they see what this process appended). A
        failure keeps the batch for the next flush and raises StoreError."""
        async with self._lock:
            batch, self._buffer = self._buffer, []
            if not batch:
                return
            try:
                await self.backend.write([(when, key, self._encode(item)) for when, key, item in batch])
            except StoreError:
                self._buffer[:0] = batch[: max(0, self._hold - len(self._buffer))]
                raise

    async def newest(self, before: str | None, count: int) -> list[Entry]:
        await self._flush_quietly()  # a store that is down still lets what it holds be read
        return await self.backend.newest(before, count)

    async def get(self, key: str) -> Any | None:
        for _, found, item in reversed(self._buffer):
            if found == key:
                return item
        record = await self.backend.get(key)
        if record is None:
            return None
        try:
            return self._decode(record)
        except ValueError as exc:
            log.warning("retained %s: record %r unreadable (%s)", self.name, key, exc)
            return None

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.create_task(self._run(), name=f"retained-{self.name}")

    async def stop(self) -> None:
        loop, self._loop = self._loop, None
        await cancel_and_wait(loop)
        await self._flush_quietly()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush_quietly()
            if self._buffer:  # a failed write (or records appended meanwhile): again after the pause
                self._wake.set()
            await asyncio.sleep(self._every)  # gathers the next records into one batch

    async def _flush_quietly(self) -> None:
        try:
            await self.flush()
        except StoreError as exc:
            if self._error_log.allow("write"):
                log.warning("retained %s: not written yet, trying again: %s", self.name, exc)
