"""The embedded store's outbox: `<storage.path>/outbox.aof`, one JSON line per add and per finish.

It owns what the file's records mean, their replay and when to compact, on the store's journal
(gateway/store/journal.py: numbered lines and a checkpoint, so a cut or emptied file refuses to open
unless loss is accepted). Each line is flushed to the OS as it is written: an accepted delivery survives
the process being killed, not a power cut. A damaged line is skipped with a warning, never fatal: one
webhook lost is better than a gateway that cannot start. One process per folder (a lock refuses more).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gateway.delivery.model import Delivery
from gateway.delivery.outbox_memory import MemoryOutbox, log
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from gateway.log import Throttle
from gateway.store.files import open_locked
from gateway.store.journal import Journal

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
        accept_loss: bool = False,
    ) -> None:
        super().__init__()
        self.path = Path(folder)
        self.file = self.path / JOURNAL
        self._codec = codec
        self._compact_min = compact_min_lines
        self._journal = Journal(self.file, "outbox", accept_loss=accept_loss)
        self._compact_log = Throttle(10.0)
        busy = f"outbox {self.file} is already open in this or another process"
        self._lock = open_locked(self.path, LOCK, "outbox", busy, self._replay, self._compact)
        if self._pending:
            log.info("outbox %s: %d webhook deliveries left by the last run", self.file, len(self._pending))

    async def close(self) -> None:
        if self._closed:
            return
        await super().close()
        try:
            self._journal.close()  # every line fsynced, then checkpointed: a later cut is seen
        finally:
            self._lock.close()

    # -- the journal -------------------------------------------------------------------------------

    def _record_add(self, delivery: Delivery) -> None:
        self._journal.append(self._add(delivery))

    def _add(self, delivery: Delivery) -> list[Any]:
        return ["add", self._codec.dump(delivery)]

    async def finish(self, delivery_id: str) -> None:
        await super().finish(delivery_id)
        self._maybe_compact()  # after the finish: the rewrite must not keep the finished delivery

    def _record_done(self, delivery_id: str) -> None:
        self._journal.append(["done", delivery_id])

    def _maybe_compact(self) -> None:
        lines = self._journal.lines
        if lines > self._compact_min and lines > 2 * len(self._pending):
            try:
                self._compact()
            except StoreError as exc:  # the finish itself is written; compaction can wait
                if self._compact_log.allow():  # tried at every finish while the disk is full
                    log.warning("%s; trying again later", exc)

    def _replay(self) -> None:
        for number, fields in self._journal.load():
            try:
                match fields:
                    case ["add", dict() as record]:
                        delivery = self._codec.load(record)
                        self._pending[delivery.id] = delivery
                    case ["done", str() as delivery_id]:
                        self._pending.pop(delivery_id, None)
                    case _:
                        raise ValueError("not an add or done record")
            except ValueError as exc:
                log.warning("outbox %s: line %d skipped (%s)", self.file, number, exc)
        self._ready.extend(self._pending.values())

    def _compact(self) -> None:
        """Rewrite the file as one add line per unfinished delivery, atomically."""
        self._journal.rewrite(self._add(delivery) for delivery in self._pending.values())
