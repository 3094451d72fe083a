"""The embedded store's retained log: `<storage.path>/<name>.jsonl`, one JSON line per record, durable
across restarts (each batch flushed to the OS as it is written).

It owns the file, an index in memory (position, time, key, byte offset: records are read back from the
file, never held), trimming by retention and the cap, and the rewrite that drops what was trimmed once it
outweighs what is kept. A damaged line (a crash mid-write) is skipped with a warning, never fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

from gateway.delivery.retained import Entry, Item, Record
from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.files import lock_folder, open_journal, read_lines, rewrite

log = get_logger("delivery.retained")

COMPACT_MIN = 1_000  # trimmed lines tolerated before a rewrite (and never more than those kept)


class FileBackend:
    def __init__(
        self,
        folder: str | os.PathLike[str],
        name: str,
        *,
        retention: float,
        limit: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.file = Path(folder) / f"{name}.jsonl"
        self._owner = f"retained {name}"
        self._retention, self._limit, self._clock = retention, limit, clock
        # (position, time, key, offset) oldest first; key -> (position, offset) of its newest record.
        self._index: deque[tuple[int, float, str | None, int]] = deque()
        self._keys: dict[str, tuple[int, int]] = {}
        self._seq = 0
        self._size = 0  # bytes in the file: the next line's offset
        self._trimmed = 0  # lines in the file no longer indexed
        self._compact_log = Throttle(10.0)
        busy = f"{self._owner}: {self.file} is already open in this or another process"
        self._lock = lock_folder(self.file.parent, f"{name}.lock", self._owner, busy)
        try:
            self._load()
            self._out: IO[str] = open_journal(self.file, self._owner)
        except BaseException:
            self._lock.close()
            raise

    def _load(self) -> None:
        offset = 0
        for number, line in enumerate(read_lines(self.file, self._owner), 1):
            try:
                fields = json.loads(line)
                self._seq = int(fields["p"])
                self._index.append((self._seq, float(fields["t"]), fields["k"], offset))
                if fields["k"] is not None:
                    self._keys[str(fields["k"])] = (self._seq, offset)
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("%s: line %d skipped (%s)", self.file, number, exc)
                self._trimmed += 1
            offset += len(line) + 1
        self._size = offset
        if self._size and not self.file.read_bytes().endswith(b"\n"):  # a torn last line: end it
            with open(self.file, "ab") as out:
                out.write(b"\n")  # counted already: each line's offset counts its newline
        self._trim()

    async def write(self, batch: list[Item]) -> None:
        lines: list[str] = []
        added: list[tuple[int, float, str | None, int]] = []
        seq, size = self._seq, self._size
        for when, key, record in batch:
            seq += 1
            line = json.dumps({"p": seq, "t": when, "k": key, "r": record}, separators=(",", ":"))
            added.append((seq, when, key, size))
            size += len(line.encode()) + 1
            lines.append(line + "\n")
        try:
            self._out.writelines(lines)
            self._out.flush()
        except (OSError, ValueError) as exc:  # ValueError: closed, its reopening having failed
            self._cut_back()  # indexed only once written: the caller keeps the batch for later
            raise StoreError(f"{self._owner}: cannot write {self.file}: {exc}") from exc
        self._seq, self._size = seq, size
        for entry in added:
            self._index.append(entry)
            if entry[2] is not None:
                self._keys[entry[2]] = (entry[0], entry[3])
        self._trim()

    def _cut_back(self) -> None:
        """After a failed write (a full disk): the file cut back to what is indexed, opened again."""
        with contextlib.suppress(OSError):
            self._out.close()  # its buffered lines may fail to flush again: they are dropped here
        with contextlib.suppress(OSError):
            os.truncate(self.file, self._size)
        with contextlib.suppress(StoreError):
            self._out = open_journal(self.file, self._owner)

    def _trim(self) -> None:
        oldest = self._clock() - self._retention
        while self._index and (len(self._index) > self._limit or self._index[0][1] < oldest):
            seq, _, key, _ = self._index.popleft()
            if key is not None and self._keys.get(key, (0, 0))[0] == seq:
                del self._keys[key]
            self._trimmed += 1
        if self._trimmed > max(COMPACT_MIN, len(self._index)):
            try:
                self._compact()
            except StoreError as exc:  # what is kept is still indexed and readable: later
                if self._compact_log.allow():
                    log.warning("%s; trying again later", exc)

    def _compact(self) -> None:
        """Rewrite the file with the lines still indexed, and their new offsets."""
        kept = self._tail()
        self._out.close()
        try:
            rewrite(self.file, kept, self._owner)
        finally:
            self._out = open_journal(self.file, self._owner)
        offset, index = 0, deque[tuple[int, float, str | None, int]]()
        for (seq, when, key, _), line in zip(self._index, kept, strict=True):
            index.append((seq, when, key, offset))
            if key is not None and self._keys.get(key, (0, 0))[0] == seq:
                self._keys[key] = (seq, offset)
            offset += len(line.encode())
        self._index, self._size, self._trimmed = index, offset, 0

    def _tail(self) -> list[str]:
        """The indexed lines, read in one pass from the oldest on (trimming takes the oldest first, so
        they are the file's tail, less any damaged line skipped at load): no seek per line, since a
        rewrite can hold `retention_max` of them and runs on the event loop."""
        start = self._index[0][3] if self._index else self._size
        try:
            with open(self.file, "rb") as source:
                source.seek(start)
                tail = source.read(self._size - start)
        except OSError as exc:
            raise StoreError(f"{self._owner}: cannot read {self.file}: {exc}") from exc
        wanted = {offset for _, _, _, offset in self._index}
        kept, offset = [], start
        for raw in tail.splitlines(keepends=True):
            if offset in wanted:
                kept.append(raw.decode())
            offset += len(raw)
        return kept

    def _line(self, offset: int) -> str:
        return self._lines([offset])[0]

    def _lines(self, offsets: list[int]) -> list[str]:
        try:
            with open(self.file, "rb") as source:  # one open for a page of records
                out = []
                for offset in offsets:
                    source.seek(offset)
                    out.append(source.readline().decode())
                return out
        except OSError as exc:
            raise StoreError(f"{self._owner}: cannot read {self.file}: {exc}") from exc

    @staticmethod
    def _record(line: str) -> Record:
        record = json.loads(line)["r"]
        if not isinstance(record, dict):
            raise ValueError("not a JSON object")
        return record

    async def newest(self, before: str | None, count: int) -> list[Entry]:
        self._trim()
        below = int(before.split("-")[-1]) if before is not None else self._seq + 1
        page: list[tuple[int, int]] = []
        for seq, _, _, offset in reversed(self._index):
            if seq < below:
                page.append((seq, offset))
                if len(page) >= count:
                    break
        lines = self._lines([offset for _, offset in page])
        return [(str(seq), self._record(line)) for (seq, _), line in zip(page, lines, strict=True)]

    async def get(self, key: str) -> Record | None:
        self._trim()
        found = self._keys.get(key)
        return None if found is None else self._record(self._line(found[1]))

    async def close(self) -> None:
        try:
            self._out.close()
        finally:
            self._lock.close()
