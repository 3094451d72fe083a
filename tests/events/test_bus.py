"""The bus: fire never blocks, a full queue drops and counts, handlers fail alone, stop drains."""

from __future__ import annotations

import asyncio

from gateway.config.model import EventsConfig
from gateway.delivery.events_kept import KeptEvents
from gateway.delivery.retained import MemoryBackend, RetainedLog
from gateway.events.bus import EventBus
from gateway.events.catalog import AuthFailureMeta, Event, EventMessage, TokenMeta


class Recording:
    """A real Handler implementation that records, optionally blocking until released."""

    kind = "recording"

    def __init__(self, gate: asyncio.Event | None = None, fail: bool = False) -> None:
        self.seen: list[EventMessage] = []
        self.gate = gate
        self.fail = fail

    async def handle(self, msg: EventMessage) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("boom")
        self.seen.append(msg)


def message(api: str = "a", event: str = Event.AuthFailure) -> EventMessage:
    meta = TokenMeta("t") if event.startswith("Token") else AuthFailureMeta("Auth Failure")
    return EventMessage(event, meta, api)


async def test_routes_per_api_and_system_events_to_gateway_level() -> None:
    per_api, gateway_level = Recording(), Recording()
    bus = EventBus(EventsConfig(workers=2))
    bus.set_routes({("a", Event.AuthFailure): [per_api], ("", Event.TokenCreated): [gateway_level]})
    await bus.start()
    assert bus.wants("a", Event.AuthFailure) and not bus.wants("b", Event.AuthFailure)
    assert bus.wants("any-api", Event.TokenCreated)
    assert bus.fire(message("a")) == 1
    assert bus.fire(message("b")) == 0
    assert bus.fire(message("a", Event.TokenCreated)) == 1
    await bus.stop()
    assert len(per_api.seen) == 1 and len(gateway_level.seen) == 1


async def test_full_queue_drops_and_counts_without_blocking() -> None:
    gate = asyncio.Event()
    slow = Recording(gate)
    bus = EventBus(EventsConfig(queue_size=3, workers=1))
    bus.set_routes({("a", Event.AuthFailure): [slow]})
    await bus.start()
    queued = [bus.fire(message()) for _ in range(10)]  # synchronous: returns at once
    # One is taken by the blocked worker, three wait in the queue; the rest are dropped.
    assert sum(queued) <= 4 and bus.stats.dropped == 10 - sum(queued)
    gate.set()
    await bus.stop()
    assert len(slow.seen) == sum(queued)


async def test_a_failing_or_slow_handler_does_not_stop_others() -> None:
    bad, good, stuck = Recording(fail=True), Recording(), Recording(asyncio.Event())
    bus = EventBus(EventsConfig(workers=2, handler_timeout=0.05))
    bus.set_routes({("a", Event.AuthFailure): [bad, stuck, good]})
    await bus.start()
    bus.fire(message())
    await asyncio.wait_for(bus.idle(), 5)
    assert len(good.seen) == 1 and bus.stats.failed == 2 and bus.stats.delivered == 1
    await bus.stop()


async def test_reload_keeps_handlers_of_queued_events() -> None:
    gate = asyncio.Event()
    old = Recording(gate)
    bus = EventBus(EventsConfig(workers=1))
    bus.set_routes({("a", Event.AuthFailure): [old]})
    await bus.start()
    bus.fire(message())
    bus.fire(message())
    bus.set_routes({})  # a reload that removed the handler
    gate.set()
    await bus.stop()
    assert len(old.seen) == 2


async def test_stop_drains_until_the_deadline_then_gives_up() -> None:
    stuck = Recording(asyncio.Event())
    bus = EventBus(EventsConfig(workers=1, shutdown_deadline=0.05, handler_timeout=60))
    bus.set_routes({("a", Event.AuthFailure): [stuck]})
    await bus.start()
    bus.fire(message())
    await asyncio.wait_for(bus.stop(), 5)
    assert bus.fire(message()) == 0 and bus.stats.dropped == 1


async def test_the_originating_request_is_wanted_unless_every_handler_says_it_never_reads_it() -> None:
    unread, unknown = Recording(), Recording()
    unread.reads_request = False  # type: ignore[attr-defined]  # as a webhook whose template never reads it
    bus = EventBus(EventsConfig())
    bus.set_routes({("a", Event.AuthFailure): [unread], ("b", Event.AuthFailure): [unread, unknown]})
    assert not bus.wants_request("a", Event.AuthFailure)
    assert bus.wants_request("b", Event.AuthFailure)  # a handler that does not say may read it


def test_past_the_keeping_bound_an_event_no_handler_wants_is_not_built() -> None:
    # The bound is per second: a flood's events past it would be built on the request path for nothing.
    now = [100.0]
    kept = KeptEvents(RetainedLog("events", MemoryBackend(60.0, 100)), per_second=2, clock=lambda: now[0])
    bus = EventBus(EventsConfig())
    bus.keep = kept
    msg = EventMessage(Event.AuthFailure, AuthFailureMeta("Auth Failure"), "a")
    noted = 0
    while bus.wants("a", Event.AuthFailure) and noted < 10:
        kept.note(msg)
        noted += 1
    assert noted == 2 and kept.dropped == 0
    now[0] += 1.0  # the next second has room again
    assert bus.wants("a", Event.AuthFailure)
    bus.keep = None
    assert not bus.wants("a", Event.AuthFailure)
