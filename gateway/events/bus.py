"""The event bus: `fire` is synchronous and never blocks; a fixed pool of workers delivers.

Handlers are resolved when an event is fired and travel with it in the queue, so a reload that swaps the
handler table never abandons an event already accepted. A full queue drops, counts and logs (throttled)
instead of slowing a request. Every event fired is also noted in the live feed, when there is one
(events/live.py: the Dashboard's view), whether or not a handler wants it, and handed to the `keep` hook
when there is one (delivery/events_kept.py: kept for replay). This module never renders or sends
anything itself: handlers do.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config.model import EventsConfig
from gateway.events import routes
from gateway.events.catalog import EventMessage
from gateway.events.live import LiveFeed
from gateway.handlers.base import Handler
from gateway.log import Throttle, get_logger
from gateway.tasks import Deadline, cancel_and_wait

log = get_logger("events")

# (api_id, event name) -> handlers; api_id "" holds the gateway-level (tyk.conf) handlers.
Routes = Mapping[tuple[str, str], Sequence[Handler]]


@dataclass(slots=True)
class BusStats:
    fired: int = 0  # (handler, event) pairs accepted into the queue
    dropped: int = 0  # pairs refused because the queue was full or the bus stopped
    delivered: int = 0  # handler runs that returned normally
    failed: int = 0  # handler runs that raised or timed out
    by_type: Counter[str] = field(default_factory=Counter)  # pairs queued, by event name (metrics)


class Keeper(Protocol):
    """Where accepted events are kept for replay (delivery/events_kept.py), within a rate bound."""

    def note(self, msg: EventMessage) -> None: ...

    def room(self) -> bool:
        """Whether an event fired now would be kept (cheap: callers ask before building one)."""
        ...


class EventBus:
    def __init__(self, config: EventsConfig, live: LiveFeed | None = None) -> None:
        self._config = config
        self._live = live  # None: events no handler wants are not even built
        # Every accepted event, whether a handler wants it or not (events.retention); a cheap append.
        self.keep: Keeper | None = None
        self._queue: asyncio.Queue[tuple[Handler, EventMessage]] = asyncio.Queue(config.queue_size)
        self._routes: Routes = {}
        self._workers: list[asyncio.Task[None]] = []
        self._accepting = False
        self._drop_log = Throttle(10.0)
        self._fail_log = Throttle(10.0)
        self.stats = BusStats()

    def set_routes(self, routes: Routes) -> None:
        """Swap the handler table (on load and reload); events already queued keep their handlers."""
        self._routes = routes

    def wants(self, api_id: str, event: str) -> bool:
        """True when some handler would receive this event, or a live feed notes every event, or every
        event is kept (`keep`): lets callers skip building metas."""
        keep = self.keep
        return (
            self._live is not None
            or bool(self._handlers(api_id, event))
            or (keep is not None and keep.room())  # past its bound a flood's events are not even built
        )

    def wants_request(self, api_id: str, event: str) -> bool:
        """True when a handler of this event may read its originating request (unknown: it may)."""
        return any(getattr(h, "reads_request", True) for h in self._handlers(api_id, event))

    def depth(self) -> int:
        """Events queued and not yet taken by a worker."""
        return self._queue.qsize()

    def fire(self, msg: EventMessage) -> int:
        """Queue the event for each of its handlers without waiting; returns how many were queued."""
        if self._live is not None:
            self._live.note(msg)
        if self.keep is not None and self._accepting:
            self.keep.note(msg)
        handlers = self._handlers(msg.api_id, msg.type)
        queued = 0
        for handler in handlers:
            if self._accepting:
                try:
                    self._queue.put_nowait((handler, msg))
                    queued += 1
                    continue
                except asyncio.QueueFull:
                    pass
            self.stats.dropped += 1
            if self._drop_log.allow():
                log.warning(
                    "event queue %s: dropped %s for api %r (%d dropped so far)",
                    "full" if self._accepting else "stopped",
                    msg.type,
                    msg.api_id,
                    self.stats.dropped,
                )
        self.stats.fired += queued
        if queued:
            self.stats.by_type[msg.type] += queued
        return queued

    async def start(self) -> None:
        self._accepting = True
        self._workers = [
            asyncio.create_task(self._work(), name=f"event-worker-{i}") for i in range(self._config.workers)
        ]

    async def stop(self, deadline: float | None = None) -> None:
        """Stop accepting, deliver what is queued until `deadline` seconds pass, then cancel workers."""
        self._accepting = False
        wait = self._config.shutdown_deadline if deadline is None else deadline
        try:
            await asyncio.wait_for(self._queue.join(), wait)
        except TimeoutError:
            log.warning("shutdown deadline passed with %d events undelivered", self._queue.qsize())
        await cancel_and_wait(*self._workers)
        self._workers = []

    async def idle(self) -> None:
        """Wait until every queued event has been handled (tests and reloads use it)."""
        await self._queue.join()

    def _handlers(self, api_id: str, event: str) -> Sequence[Handler]:
        found = routes.tables(api_id, event)  # Tyk's routing rule
        if len(found) == 1:
            return self._routes.get((found[0], event), ())
        return [h for table in found for h in self._routes.get((table, event), ())]

    async def _work(self) -> None:
        loop, me = asyncio.get_running_loop(), asyncio.current_task()
        assert me is not None
        while True:
            handler, msg = await self._queue.get()
            try:
                # A timeout scope, not wait_for: no task per event (a flood makes thousands a second).
                with Deadline(loop, me, self._config.handler_timeout):
                    await handler.handle(msg)
                self.stats.delivered += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a handler must never take a worker down
                self.stats.failed += 1
                name = getattr(handler, "name", "")
                # One line per handler and event per interval: a down target under a flood is one problem.
                if self._fail_log.allow(f"{id(handler)}:{msg.type}"):
                    log.warning(
                        "handler %s %s for api %r failed on %s: %s (%d failures so far)",
                        handler.kind,
                        repr(name) if name else "",
                        msg.api_id,
                        msg.type,
                        str(exc) or type(exc).__name__,
                        self.stats.failed,
                        extra={
                            "api_id": msg.api_id,
                            "event": str(msg.type),
                            "handler": str(name or handler.kind),
                            "request_id": msg.meta.request_id,
                        },
                    )
            finally:
                self._queue.task_done()
