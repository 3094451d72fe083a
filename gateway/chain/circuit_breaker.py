"""Circuit breakers (TYK-REFERENCE 7.11): `Breaker`, one breaker's state machine driven by the times it
is given, and `CircuitBreaker`, the middleware that refuses requests while a path's breaker is open and
records each proxied outcome through `on_response`. One breaker per configured entry per gateway
process, as in Tyk: breakers are not shared across nodes (no store state), and a reload starts them
afresh. It never contacts the upstream itself: routing.py proxies and reports the outcome.

Events are edge-triggered, fixing Tyk's stacking reset timers: each trip (including a failed half-open
probe) fires one BreakerTriggered + BreakerTripped pair and (re)arms the entry's ONE reset deadline;
each reset fires one BreakerTriggered + BreakerReset pair. The deadline is enforced twice, on purpose:
lazily by the next request to the path (so a late timer never lets a request see a stale open breaker)
and by one `loop.call_later` per tripped entry (so the reset and its events happen with no traffic).
Both go through `Breaker.expire`, which resets at most once. `close()` cancels the timers (reload/stop).
Events go straight to the bus: they carry no originating request, and a trip found on the response
path comes after the request's own events were flushed.
"""

from __future__ import annotations

import asyncio
import enum
from typing import ClassVar

from gateway.apidef.model import APISpec, BreakerSpec
from gateway.config.model import Config
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from gateway.events.catalog import BreakerMeta, Event, EventMessage

SERVICE_UNAVAILABLE = "Service temporarily unavailable."
BUCKETS = 10  # Tyk's rolling window: ten buckets of one second
BACKOFF_START, BACKOFF_FACTOR, BACKOFF_MAX = 0.5, 1.5, 60.0  # cenkalti/backoff defaults, no jitter


class Transition(enum.IntEnum):
    """A change of state; the value is Tyk's `.Meta.CircuitEvent`."""

    TRIPPED = 0
    RESET = 1


class Admission(enum.Enum):
    PASS = "pass"  # closed: proxy as usual
    PROBE = "probe"  # half-open: this one request tests the upstream
    REFUSE = "refuse"  # open: 503 without contacting the upstream


class Breaker:
    """One breaker's state. It reads no clock: every call gets `now` (seconds), so tests drive time."""

    __slots__ = (
        "_fail",
        "_ok",
        "_probe",
        "_tick",
        "backoff",
        "last_failure",
        "reset_at",
        "settings",
        "tripped",
    )

    def __init__(self, settings: BreakerSpec) -> None:
        self.settings = settings
        self.tripped = False
        self.last_failure = 0.0
        self.backoff = BACKOFF_START  # how long after the last failure the next probe may go
        self.reset_at: float | None = None  # the one unconditional reset deadline while tripped
        self._probe: object | None = None  # the request let through half-open, until it answers
        self._fail = [0] * BUCKETS
        self._ok = [0] * BUCKETS
        self._tick = [-1] * BUCKETS  # which whole second each bucket counts; stale buckets are skipped

    def counts(self, now: float) -> tuple[int, int]:
        """(failures, successes) over the last ten seconds."""
        tick = int(now)
        live = [i for i in range(BUCKETS) if 0 <= tick - self._tick[i] < BUCKETS]
        return sum(self._fail[i] for i in live), sum(self._ok[i] for i in live)

    def expire(self, now: float) -> Transition | None:
        """The unconditional reset once `return_to_service_after` has passed since the last trip."""
        if self.tripped and self.reset_at is not None and now >= self.reset_at:
            return self._reset()
        return None

    def allow(self, now: float, request: object) -> Admission:
        """Whether `request` may reach the upstream; `request` identifies a half-open probe later."""
        if not self.tripped:
            return Admission.PASS
        if self.settings.half_open and self._probe is None and now - self.last_failure >= self.backoff:
            self._probe = request
            self.backoff = min(self.backoff * BACKOFF_FACTOR, BACKOFF_MAX)
            return Admission.PROBE
        return Admission.REFUSE

    def record(self, now: float, failed: bool | None, request: object) -> Transition | None:
        """One proxied outcome: failed True/False, or None when there is no verdict (client gone)."""
        probe = request is not None and request is self._probe
        if failed is None:
            if probe:
                self._probe = None  # free the slot: another request may probe after the back-off
            return None
        tick = int(now)
        i = tick % BUCKETS
        if self._tick[i] != tick:
            self._tick[i], self._fail[i], self._ok[i] = tick, 0, 0
        if not failed:
            self._ok[i] += 1
            if probe:
                return self._reset()
            if not self.tripped:
                self.backoff = BACKOFF_START
            return None
        self._fail[i] += 1
        self.last_failure = now
        if probe:
            self._probe = None
            return self._trip(now)
        if self.tripped:  # a request admitted before the trip: counted, but no second trip
            return None
        failures, successes = self.counts(now)
        total = failures + successes
        if total >= self.settings.samples and failures / total >= self.settings.threshold:
            return self._trip(now)
        return None

    def _trip(self, now: float) -> Transition:
        # Counters stay as they are (Tyk's), and the single reset deadline restarts from this trip.
        self.tripped = True
        self.reset_at = now + self.settings.return_to_service_after
        return Transition.TRIPPED

    def _reset(self) -> Transition:
        self.tripped = False
        self.reset_at = None
        self._probe = None
        self.backoff = BACKOFF_START
        self._fail = [0] * BUCKETS
        self._ok = [0] * BUCKETS
        self._tick = [-1] * BUCKETS
        return Transition.RESET


class CircuitBreaker:
    name: ClassVar[str] = "circuit_breaker"

    def __init__(self, spec: APISpec, config: Config) -> None:
        self.api_id, self.org_id = spec.api_id, spec.org_id
        self.prefix = spec.listen_path.rstrip("/")
        # Matching is decided here, once: (method, compiled pattern, breaker) per configured entry.
        self.entries = tuple((b.method, b.regex(), Breaker(b)) for b in spec.breakers)
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._services: Services | None = None  # known from the first request; timers need bus and clock
        self._closed = False

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return bool(spec.breakers)

    def _find(self, ctx: RequestContext) -> Breaker | None:
        """The first entry for this method whose pattern matches the path below the listen path."""
        method, path = ctx.scope["method"], ctx.path
        relative = path[len(self.prefix) :] if path.startswith(self.prefix) else path
        if not relative.startswith("/"):
            relative = "/" + relative
        for entry_method, regex, breaker in self.entries:
            if entry_method == method and regex.match(relative):
                return breaker
        return None

    async def on_request(self, ctx: RequestContext) -> None:
        breaker = self._find(ctx)
        if breaker is None or not breaker.tripped:
            return
        self._services = ctx.services
        now = ctx.now()
        self._emit(breaker, breaker.expire(now))
        if breaker.allow(now, ctx) is Admission.REFUSE:
            raise Reject(503, SERVICE_UNAVAILABLE)  # no event per refused request, as in Tyk

    def on_response(self, ctx: RequestContext, status: int | None) -> None:
        """The proxy's outcome: the status sent (499 = the client left: no verdict), or None if aborted."""
        breaker = self._find(ctx)
        if breaker is None:
            return
        self._services = ctx.services
        failed = None if status is None or status == 499 else status >= 500
        self._emit(breaker, breaker.record(ctx.now(), failed, ctx))

    def close(self) -> None:
        """Cancel the reset timers (reload and stop); a closed middleware never arms one again."""
        self._closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    def _emit(self, breaker: Breaker, transition: Transition | None) -> None:
        services = self._services
        if transition is None or services is None:
            return
        bus = services.bus
        tripped = transition is Transition.TRIPPED
        meta = BreakerMeta(
            "Breaker Tripped" if tripped else "Breaker Reset",
            path=breaker.settings.path,
            api_id=self.api_id,
            circuit_event=int(transition),
        )
        for event in (Event.BreakerTriggered, Event.BreakerTripped if tripped else Event.BreakerReset):
            if bus.wants(self.api_id, event):
                bus.fire(EventMessage(event, meta, self.api_id, self.org_id))
        self._arm(breaker)

    def _arm(self, breaker: Breaker) -> None:
        """(Re)start the entry's single reset timer, or drop it once the breaker is closed again."""
        handle = self._timers.pop(id(breaker), None)
        if handle is not None:
            handle.cancel()
        if self._closed or breaker.reset_at is None or self._services is None:
            return
        delay = max(0.0, breaker.reset_at - self._services.clock())
        loop = asyncio.get_running_loop()
        self._timers[id(breaker)] = loop.call_later(delay, self._on_timer, breaker)

    def _on_timer(self, breaker: Breaker) -> None:
        self._timers.pop(id(breaker), None)
        if self._services is None:
            return
        transition = breaker.expire(self._services.clock())
        if transition is None:
            self._arm(breaker)  # the injected clock is behind the loop's: look again at the deadline
        else:
            self._emit(breaker, transition)
