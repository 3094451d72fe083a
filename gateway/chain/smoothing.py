"""Rate-limit smoothing (Tyk's internal/rate/smoothing.go) for the key rate limit: the effective limit is
an allowance that starts at `threshold` and moves by `step` (at most once per `delay`) towards `rate`
when traffic nears it, and back down when traffic falls away. RateLimitSmoothingUp/Down fire on change.

Design: the limiter window stays keyed by (rate, per), so `Limiter.count` reads the traffic whatever the
allowance, and `Limiter.hit(..., allowance)` admits at most `allowance` in that window (blocked when the
count before this request > allowance - 1, as Tyk). The state, `<limiter key>-allowance` in the Store,
is `{"current", "next_update"}` on `Services.clock`. No distributed lock (Tyk takes one): two gateways
deciding in the same instant make the same change from the same state, and may both fire its event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from gateway.context import RequestContext
from gateway.events.catalog import Event, RateLimitSmoothingMeta
from gateway.identity.limits import Smoothing

UP_MESSAGE = "Rate limit increased with smoothing"
DOWN_MESSAGE = "Rate limit decreased with smoothing"


@dataclass(frozen=True, slots=True)
class Allowance:
    current: int
    next_update: float  # Unix seconds before which the allowance does not change


def decide(
    state: Allowance | None, count: int, now: float, smoothing: Smoothing, rate: int
) -> tuple[Allowance, Event | None]:
    """The allowance after seeing `count` requests in the window, and the event to fire (Tyk's rules).

    First sight starts at the threshold without an event; a change is at most one step per `delay`.
    """
    if state is None:
        return Allowance(smoothing.threshold, now + smoothing.delay), None
    if now <= state.next_update:
        return state, None
    current, step, trigger = state.current, smoothing.step, smoothing.trigger
    if count >= current - trigger * step:
        raised = min(current + step, rate)
        if raised != current:
            return Allowance(raised, now + smoothing.delay), Event.RateLimitSmoothingUp
        return state, None
    lowered = current - step
    if count <= lowered - trigger * step:
        lowered = max(lowered, smoothing.threshold)
        if lowered != current:
            return Allowance(lowered, now + smoothing.delay), Event.RateLimitSmoothingDown
    return state, None


async def allowance(ctx: RequestContext, ident: str, rate: float, per: float, smoothing: Smoothing) -> int:
    """This request's allowance for the limiter key `ident`; fires Up/Down when it changes.

    Store failures surface as StoreError for the caller's `store_failure`.
    """
    services = ctx.services
    name = ident + "-allowance"
    stored = await services.store.get(name)
    state = _parse(stored) if stored is not None else None
    count = await services.limiter.count(ident, rate, per)
    # The cap is the limiter's whole-request rate (a rate below 1 still admits 1 per window).
    new, event = decide(state, count, services.clock(), smoothing, max(1, int(rate)))
    if new != state:
        record = {"current": new.current, "next_update": new.next_update}
        await services.store.set(name, json.dumps(record, separators=(",", ":")))
    if event is not None:
        message = UP_MESSAGE if event is Event.RateLimitSmoothingUp else DOWN_MESSAGE
        ctx.fire(event, RateLimitSmoothingMeta(message, path=ctx.path, origin=ctx.origin, key=ctx.key))
    return new.current


def _parse(text: str) -> Allowance | None:
    """A stored allowance; anything unreadable starts again from the threshold."""
    try:
        raw = json.loads(text)
        return Allowance(int(raw["current"]), float(raw["next_update"]))
    except (ValueError, TypeError, KeyError):
        return None
