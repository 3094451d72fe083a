"""The circuit breaker: the state machine on an injected clock, then the middleware on a real context
and a real event bus (one event pair per transition, 503 while open, the single reset timer)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.model import APISpec, BreakerSpec
from gateway.chain import DEFAULT_CONFIG
from gateway.chain.circuit_breaker import (
    BACKOFF_START,
    SERVICE_UNAVAILABLE,
    Admission,
    Breaker,
    CircuitBreaker,
    Transition,
)
from gateway.config.model import from_dict
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from gateway.events.bus import EventBus
from gateway.events.catalog import BreakerMeta, Event, EventMessage
from gateway.identity.sessions import SessionStore
from gateway.store.limiter import Limiter
from gateway.store.memory import MemoryStore

T0 = 1_800_000_000.0


def settings(**kw: Any) -> BreakerSpec:
    base: dict[str, Any] = {
        "path": "/status/{code}",
        "method": "GET",
        "threshold": 0.5,
        "samples": 4,
        "return_to_service_after": 30.0,
    }
    return BreakerSpec(**{**base, **kw})


def fail(b: Breaker, now: float, n: int = 1) -> list[Transition | None]:
    return [b.record(now, True, None) for _ in range(n)]


# -- the state machine --------------------------------------------------------------------------


def test_trips_only_at_samples_and_threshold() -> None:
    b = Breaker(settings(samples=4, threshold=0.5))
    assert fail(b, T0, 3) == [None, None, None]  # 3 samples < 4
    assert b.record(T0, False, None) is None  # 4 samples, but the check runs on failures only
    assert b.counts(T0) == (3, 1)
    assert b.record(T0, True, None) is Transition.TRIPPED  # 4 of 5 failed
    assert b.allow(T0, object()) is Admission.REFUSE


def test_below_threshold_does_not_trip() -> None:
    b = Breaker(settings(samples=2, threshold=0.6))
    for _ in range(3):
        assert b.record(T0, False, None) is None
    assert fail(b, T0, 4) == [None] * 4  # 4 of 7 = 0.57 < 0.6
    assert b.record(T0, True, None) is Transition.TRIPPED  # 5 of 8 = 0.625


def test_the_window_forgets_after_ten_seconds() -> None:
    b = Breaker(settings(samples=4, threshold=1.0))
    fail(b, T0, 3)
    assert b.counts(T0 + 9.9) == (3, 0)
    assert b.counts(T0 + 10) == (0, 0)
    assert b.record(T0 + 10.5, True, None) is None  # the old failures no longer count
    fail(b, T0 + 11, 2)
    assert b.record(T0 + 12, True, None) is Transition.TRIPPED


def test_one_trip_however_many_late_failures() -> None:
    b = Breaker(settings(samples=1, threshold=0.5))
    assert b.record(T0, True, None) is Transition.TRIPPED
    # Requests admitted before the trip answer afterwards: counted, never a second trip.
    assert fail(b, T0 + 0.1, 5) == [None] * 5
    assert b.record(T0 + 0.2, False, None) is None
    assert b.tripped


def test_half_open_probe_success_resets() -> None:
    b = Breaker(settings(samples=1))
    b.record(T0, True, None)
    assert b.allow(T0 + BACKOFF_START - 0.01, "early") is Admission.REFUSE
    probe, other = object(), object()
    assert b.allow(T0 + BACKOFF_START, probe) is Admission.PROBE
    assert b.allow(T0 + BACKOFF_START, other) is Admission.REFUSE  # one probe at a time
    assert b.record(T0 + 0.6, False, other) is None  # not the probe's answer
    assert b.record(T0 + 0.6, False, probe) is Transition.RESET
    assert not b.tripped and b.counts(T0 + 0.6) == (0, 0) and b.reset_at is None
    assert b.allow(T0 + 0.6, object()) is Admission.PASS


def test_half_open_probe_failure_trips_again_with_a_longer_back_off() -> None:
    b = Breaker(settings(samples=1, return_to_service_after=30.0))
    b.record(T0, True, None)
    probe = object()
    assert b.allow(T0 + 0.5, probe) is Admission.PROBE
    assert b.record(T0 + 0.6, True, probe) is Transition.TRIPPED
    assert b.reset_at == T0 + 0.6 + 30.0  # the one deadline restarts from the new trip
    assert b.allow(T0 + 0.6 + 0.74, object()) is Admission.REFUSE  # back-off grew to 0.75 s
    assert b.allow(T0 + 0.6 + 0.75, object()) is Admission.PROBE


def test_a_probe_without_verdict_frees_the_slot() -> None:
    b = Breaker(settings(samples=1))
    b.record(T0, True, None)
    probe = object()
    assert b.allow(T0 + 1, probe) is Admission.PROBE
    assert b.record(T0 + 1, None, probe) is None  # the client left: no verdict, still open
    assert b.tripped
    assert b.allow(T0 + 1.75, object()) is Admission.PROBE


def test_disabled_half_open_waits_for_the_timer() -> None:
    b = Breaker(settings(samples=1, half_open=False, return_to_service_after=5.0))
    b.record(T0, True, None)
    assert b.allow(T0 + 4.9, object()) is Admission.REFUSE
    assert b.expire(T0 + 4.9) is None
    assert b.expire(T0 + 5.0) is Transition.RESET
    assert b.expire(T0 + 5.0) is None  # once
    assert b.allow(T0 + 5.0, object()) is Admission.PASS


def test_zero_return_to_service_resets_at_once() -> None:
    b = Breaker(settings(samples=1, half_open=False, return_to_service_after=0.0))
    assert b.record(T0, True, None) is Transition.TRIPPED
    assert b.expire(T0) is Transition.RESET  # Tyk's timer sleeps 0 s


# -- the middleware on a real context and bus ---------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Recorder:
    kind = "recorder"

    def __init__(self) -> None:
        self.messages: list[EventMessage] = []

    async def handle(self, msg: EventMessage) -> None:
        self.messages.append(msg)

    def seen(self) -> list[tuple[str, str, int]]:
        out = []
        for m in self.messages:
            assert isinstance(m.meta, BreakerMeta)
            out.append((m.type, m.meta.message, m.meta.circuit_event))
        return out


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    store = MemoryStore(str(tmp_path / "data"))
    cfg = from_dict({}, base_dir=tmp_path, environ={})
    bus = EventBus(cfg.events)
    await bus.start()
    yield Services(
        cfg,
        store,
        SessionStore(store, hash_keys=False, hash_function="", min_token_length=3),
        Limiter(store.rate_limit_storage()),
        bus,
        Clock(),
    )
    await bus.stop()
    await store.close()


@pytest.fixture
def recorder(services: Services) -> Recorder:
    rec = Recorder()
    events = (Event.BreakerTriggered, Event.BreakerTripped, Event.BreakerReset)
    services.bus.set_routes({("api1", e): [rec] for e in events})
    return rec


def api(*breakers: BreakerSpec) -> APISpec:
    return APISpec(
        api_id="api1",
        name="a",
        org_id="org1",
        listen_path="/a/",
        target_url="http://127.0.0.1:1",
        breakers=breakers,
    )


def ctx(
    services: Services, spec: APISpec, path: str = "/a/status/500", method: str = "GET"
) -> RequestContext:
    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    return RequestContext(spec, scope, services)


async def attempt(mw: CircuitBreaker, c: RequestContext, status: int | None) -> int:
    """One request through the breaker: 503 if refused, else the upstream status it records."""
    try:
        await mw.on_request(c)
    except Reject as exc:
        assert exc.message == SERVICE_UNAVAILABLE
        return exc.status
    mw.on_response(c, status)
    return status or 0


TRIP = [
    ("BreakerTriggered", "Breaker Tripped", 0),
    ("BreakerTripped", "Breaker Tripped", 0),
]
RESET = [("BreakerTriggered", "Breaker Reset", 1), ("BreakerReset", "Breaker Reset", 1)]


async def test_matching_is_by_method_and_pattern_below_the_listen_path(services: Services) -> None:
    spec = api(settings(path="/status/{code}"), settings(path="/status/.*", method="POST"))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    first, second = (breaker for _, _, breaker in mw.entries)
    assert mw._find(ctx(services, spec, "/a/status/500")) is first
    assert mw._find(ctx(services, spec, "/a/status/500", "POST")) is second
    assert mw._find(ctx(services, spec, "/a/status/500", "PUT")) is None
    assert mw._find(ctx(services, spec, "/a/other/500")) is None
    assert mw._find(ctx(services, spec, "/a/status")) is None


async def test_trip_refuse_and_probe_reset_fire_one_pair_each(services: Services, recorder: Recorder) -> None:
    spec = api(settings(samples=2, threshold=0.5))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    clock: Clock = services.clock  # type: ignore[assignment]
    assert [await attempt(mw, ctx(services, spec), 500) for _ in range(4)] == [500, 500, 503, 503]
    mw.on_response(ctx(services, spec), 502)  # a late failure from before the trip: no second pair
    await services.bus.idle()
    assert recorder.seen() == TRIP
    meta = recorder.messages[0].meta
    assert meta == BreakerMeta("Breaker Tripped", path="/status/{code}", api_id="api1", circuit_event=0)
    assert recorder.messages[0].api_id == "api1" and recorder.messages[0].org_id == "org1"
    assert not meta.from_request
    clock.now += BACKOFF_START
    assert await attempt(mw, ctx(services, spec), 200) == 200  # the probe
    assert await attempt(mw, ctx(services, spec), 500) == 500  # closed again: counting afresh
    await services.bus.idle()
    assert recorder.seen() == TRIP + RESET
    mw.close()


async def test_probe_failure_trips_again(services: Services, recorder: Recorder) -> None:
    spec = api(settings(samples=1))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    clock: Clock = services.clock  # type: ignore[assignment]
    assert await attempt(mw, ctx(services, spec), None) == 0  # aborted: no verdict, no trip
    assert await attempt(mw, ctx(services, spec), 504) == 504  # a timeout is a failure
    clock.now += 1
    assert await attempt(mw, ctx(services, spec), 500) == 500  # the probe fails
    assert await attempt(mw, ctx(services, spec), 200) == 503
    await services.bus.idle()
    assert recorder.seen() == TRIP + TRIP
    mw.close()


async def test_the_timer_resets_once_without_traffic(services: Services, recorder: Recorder) -> None:
    spec = api(settings(samples=1, half_open=False, return_to_service_after=0.05))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    clock: Clock = services.clock  # type: ignore[assignment]
    await attempt(mw, ctx(services, spec), 500)
    assert len(mw._timers) == 1
    clock.now += 0.05
    deadline = asyncio.get_running_loop().time() + 5
    while len(recorder.messages) < 4 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)  # polling a real loop timer, bounded
    await services.bus.idle()
    assert recorder.seen() == TRIP + RESET
    assert mw._timers == {}
    assert await attempt(mw, ctx(services, spec), 200) == 200


async def test_a_request_after_the_deadline_resets_before_the_timer(
    services: Services, recorder: Recorder
) -> None:
    spec = api(settings(samples=1, half_open=False, return_to_service_after=30.0))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    clock: Clock = services.clock  # type: ignore[assignment]
    await attempt(mw, ctx(services, spec), 500)
    clock.now += 30
    assert await attempt(mw, ctx(services, spec), 200) == 200
    assert mw._timers == {}  # the lazy reset cancelled the timer: it cannot fire a second reset
    await services.bus.idle()
    assert recorder.seen() == TRIP + RESET


async def test_close_cancels_the_timers(services: Services, recorder: Recorder) -> None:
    spec = api(settings(samples=1, return_to_service_after=30.0))
    mw = CircuitBreaker(spec, DEFAULT_CONFIG)
    await attempt(mw, ctx(services, spec), 500)
    (handle,) = mw._timers.values()
    mw.close()
    assert handle.cancelled() and mw._timers == {}
    await attempt(mw, ctx(services, spec, "/a/status/1"), 200)  # 503: still open
    mw.on_response(ctx(services, spec), 500)
    assert mw._timers == {}  # closed: never armed again
