"""The embedded store's outbox: `<storage.path>/outbox.aof`, one JSON line per add and per finish.

It owns the file's format, its replay and its compaction, in the embedded store's style (gateway/store/
memory.py): each line is flushed to the OS as it is written, so an accepted delivery survives the
process being killed, not a power cut. A damaged line is skipped with a warning, never fatal: losing
one webhook is better than a gateway that cannot start. One process per folder (a lock refuses more).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from gateway.delivery.model import Delivery
from gateway.delivery.outbox_memory import MemoryOutbox, log
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.store.files import open_journal, open_locked, read_lines, rewrite

JOURNAL = "outbox.aof"
LOCK = "outbox.lock"
# Rewrite the file once it has this many lines and more than twice the unfinished deliveries.
COMPACT_MIN_LINES = 10_000


class FileOutbox(MemoryOutbox):
    durable = True

    def __init__(
        self,
        folder: str | os.PathLike[str],
        codec: RecordCodec,
        *,
        compact_min_lines: int = COMPACT_MIN_LINES,
    ) -> None:
        super().__init__()
        self.path = Path(folder)
        self.file = self.path / JOURNAL
        self._codec = codec
        self._compact_min = compact_min_lines
        self._journal: IO[str] | None = None
        self._lines = 0
        busy = f"outbox {self.path / JOURNAL} is already open in this or another process"
        self._lock = open_locked(self.path, LOCK, "outbox", busy, self._replay, self._compact)
        if self._pending:
            log.info("outbox %s: %d webhook deliveries left by the last run", self.file, len(self._pending))

    async def close(self) -> None:
        if self._closed:
            return
        await super().close()
        journal, self._journal = self._journal, None
        try:
            if journal is not None:
                journal.close()
        except OSError as exc:
            raise StoreError(f"outbox {self.file}: close failed: {exc}") from exc
        finally:
            self._lock.close()

    # -- the journal -------------------------------------------------------------------------------

    def _record_add(self, delivery: Delivery) -> None:
        self._write(self._add_line(delivery))

    def _add_line(self, delivery: Delivery) -> str:
        return json.dumps(["add", self._codec.dump(delivery)], separators=(",", ":")) + "\n"

    def _record_done(self, delivery_id: str) -> None:
        self._write(json.dumps(["done", delivery_id]) + "\n")
        if self._lines > self._compact_min and self._lines > 2 * len(self._pending):
            try:
                self._compact()
            except StoreError as exc:  # the finish itself is written; compaction can wait
                log.warning("%s; trying again later", exc)
                self._lines = len(self._pending)

    def _write(self, line: str) -> None:
        journal = self._journal
        if journal is None:
            raise StoreError(f"outbox {self.file} is closed")
        try:
            journal.write(line)
            journal.flush()
        except (OSError, ValueError) as exc:
            raise StoreError(f"outbox {self.file}: write failed: {exc}") from exc
        self._lines += 1

    def _replay(self) -> None:
        for number, raw in enumerate(read_lines(self.file, "outbox"), 1):
            try:
                match json.loads(raw):
                    case ["add", dict() as record]:
                        delivery = self._codec.load(record)
                        self._pending[delivery.id] = delivery
                    case ["done", str() as delivery_id]:
                        self._pending.pop(delivery_id, None)
                    case _:
                        raise ValueError("not an add or done record")
            except ValueError as exc:  # also a UnicodeDecodeError from a torn multi-byte character
                log.warning("outbox %s: line %d skipped (%s)", self.file, number, exc)
        self._ready.extend(self._pending.values())

    def _compact(self) -> None:
        """Rewrite the file as one add line per unfinished delivery, atomically."""
        adds = (self._add_line(delivery) for delivery in self._pending.values())
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        try:
            rewrite(self.file, adds, "outbox")
        finally:
            self._journal = open_journal(self.file, "outbox")
        self._lines = len(self._pending)
