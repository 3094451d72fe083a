"""Which retained logs a gateway keeps (`events.retention`, `events.retention_max`), on which backend:
files under `storage.path` on the embedded store, Streams on Redis (shared by every gateway), memory
for this process alone with retention 0. The one owner of that choice and of the logs' lifetimes.

It opens, starts, flushes and closes them; what their records mean belongs to their users (history.py
for attempts, deliverer.py for bodies, events_kept.py for events).
"""

from __future__ import annotations

from typing import Any

from gateway.config.model import Config
from gateway.delivery import events_kept
from gateway.delivery.record import RecordCodec
from gateway.delivery.retained import Backend, MemoryBackend, RetainedLog
from gateway.delivery.retained_file import FileBackend
from gateway.delivery.retained_redis import RedisBackend
from gateway.errors import StoreError
from gateway.store.base import Store

ATTEMPTS, BODIES, EVENTS = "deliveries", "delivery-bodies", "events"
# With retention 0 nothing is written: this process keeps its last attempts in memory (as the log did
# before retention), and no bodies or events beyond what the Deliverer already holds.
MEMORY_ATTEMPTS = 10_000


def _backend(config: Config, store: Store, name: str, limit: int) -> Backend:
    events = config.events
    try:
        kind = store.name
    except StoreError:  # the `check` command's stand-in store: nothing may be written
        kind = ""
    if events.retention <= 0 or not kind:
        return MemoryBackend(0.0, limit)
    if kind == "redis":
        # By attribute, not class: outboxes.py is delivery/'s one importer of the Redis store.
        client: Any = getattr(store, "client")  # noqa: B009
        address = str(getattr(store, "address", "redis"))
        return RedisBackend(client, name, retention=events.retention, limit=limit, address=address)
    if kind == "embedded":
        return FileBackend(config.storage.path, name, retention=events.retention, limit=limit)
    return MemoryBackend(events.retention, limit)


class Retained:
    """The delivery log's attempts, the delivered bodies (for resend), and the accepted events."""

    def __init__(self, config: Config, store: Store) -> None:
        events = config.events
        keep = events.retention > 0
        codec = RecordCodec(config.secret)
        self.attempts = RetainedLog(
            ATTEMPTS, _backend(config, store, ATTEMPTS, events.retention_max if keep else MEMORY_ATTEMPTS)
        )
        self.bodies: RetainedLog | None = None
        self.events: RetainedLog | None = None
        if keep:
            self.bodies = RetainedLog(
                BODIES,
                _backend(config, store, BODIES, events.retention_max),
                encode=codec.dump,
                decode=codec.load,
            )
            self.events = RetainedLog(
                EVENTS, _backend(config, store, EVENTS, events.retention_max), encode=events_kept.record
            )
        self.retention = events.retention

    def all(self) -> list[RetainedLog]:
        return [log for log in (self.attempts, self.bodies, self.events) if log is not None]

    def start(self) -> None:
        for log in self.all():
            log.start()

    async def stop(self) -> None:
        """Stop the flush loops, writing what waits (what cannot be written is lost, and logged)."""
        for log in self.all():
            await log.stop()

    async def close(self) -> None:
        for log in self.all():
            await log.backend.close()
