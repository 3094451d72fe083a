"""Rate-limit smoothing: Tyk's rules as a pure function of (state, count, time), then on a real context
with an injected clock: the allowance is the effective limit, changes at most once per delay, fires
RateLimitSmoothingUp once per change, and is only active with `enable_rate_limit_smoothing`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.chain.smoothing import Allowance, decide
from gateway.config.model import from_dict
from gateway.context import Services
from gateway.events.catalog import Event
from gateway.identity.limits import Smoothing
from gateway.identity.session import Session
from tests.chain import test_chain
from tests.chain.test_chain import Clock, add_key, request, run, spec

S = Smoothing(enabled=True, threshold=2, trigger=0.5, step=2, delay=10)
T0 = 1_000.0

services = test_chain.services  # the shared fixture, used here under its own name


def test_first_sight_starts_at_the_threshold_without_an_event() -> None:
    assert decide(None, 50, T0, S, 10) == (Allowance(2, T0 + 10), None)


def test_no_change_before_the_delay_has_passed() -> None:
    state = Allowance(4, T0 + 10)
    assert decide(state, 100, T0 + 10, S, 10) == (state, None)


@pytest.mark.parametrize(
    ("current", "count", "expected", "event"),
    [
        (4, 3, 6, Event.RateLimitSmoothingUp),  # 3 >= 4 - 0.5*2
        (4, 2, 4, None),  # neither: 2 < 3 and 2 > (4-2) - 1
        (4, 1, 2, Event.RateLimitSmoothingDown),  # 1 <= (4-2) - 1
        (8, 9, 10, Event.RateLimitSmoothingUp),  # capped at rate
        (10, 10, 10, None),  # at the cap: no change, no event
        (2, 0, 2, None),  # at the threshold: no change, no event
        (3, 0, 2, Event.RateLimitSmoothingDown),  # floored at the threshold
    ],
)
def test_up_and_down(current: int, count: int, expected: int, event: Event | None) -> None:
    state = Allowance(current, T0)
    new, fired = decide(state, count, T0 + 1, S, 10)
    assert (new.current, fired) == (expected, event)
    assert new.next_update == (T0 + 1 + 10 if event else T0)


@pytest.mark.parametrize(
    "block",
    [
        {"enabled": False, "threshold": 1, "trigger": 1, "step": 1, "delay": 1},
        {"enabled": True, "threshold": 0, "trigger": 1, "step": 1, "delay": 1},
        {"enabled": True, "threshold": 1, "trigger": 1, "step": 1},
    ],
)
def test_only_a_valid_block_is_kept(block: dict[str, Any]) -> None:
    assert Session.from_json({"smoothing": block}, "t").limit("x").smoothing is None


def smoothed(**extra: Any) -> dict[str, Any]:
    block = {"enabled": True, "threshold": 2, "trigger": 0.5, "step": 2, "delay": 10}
    return {"rate": 10, "per": 60, "smoothing": block, **extra}


@pytest.fixture
def smoothing_on(services: Services, tmp_path: Path) -> Services:
    services.config = from_dict({"enable_rate_limit_smoothing": True}, base_dir=tmp_path, environ={})
    return services


async def test_the_allowance_is_the_limit_and_rises_once_per_delay(smoothing_on: Services) -> None:
    services = smoothing_on
    clock = services.clock
    assert isinstance(clock, Clock)
    await add_key(services, "key-s", **smoothed())
    send = lambda: run(services, spec(), request({"Authorization": "key-s"}))  # noqa: E731

    results = [await send() for _ in range(3)]
    assert [r is None for _, r in results] == [True, True, False]  # the threshold (2), not rate (10)
    assert [e for e, _ in results[2][0].pending] == ["RatelimitExceeded"]
    stored = json.loads(await services.store.get("rate-limit-key-s-allowance") or "")
    assert stored == {"current": 2, "next_update": clock.now + 10}

    clock.now += 11
    ctx, rejected = await send()
    assert rejected is None
    [(event, meta)] = ctx.pending
    assert event == "RateLimitSmoothingUp"
    assert meta.go_fields() | {"OriginatingRequest": ""} == {
        "Message": "Rate limit increased with smoothing",
        "Path": "/a/x",
        "Origin": "10.1.2.3",
        "Key": "key-s",
        "OriginatingRequest": "",
    }
    # Within the delay: no further change, so the new allowance (4) is the limit.
    later = [await send() for _ in range(2)]
    assert [r is None for _, r in later] == [True, False]
    assert [e for ctx, _ in later for e, _ in ctx.pending] == ["RatelimitExceeded"]


async def test_the_access_rights_limit_carries_its_own_smoothing(smoothing_on: Services) -> None:
    rights = {"api1": {"api_id": "api1", "limit": smoothed()}}
    await add_key(smoothing_on, "key-a", rate=100, per=60, access_rights=rights)
    results = [await run(smoothing_on, spec(), request({"Authorization": "key-a"})) for _ in range(3)]
    assert [r is None for _, r in results] == [True, True, False]


async def test_smoothing_is_off_unless_enabled_in_the_config(services: Services) -> None:
    await add_key(services, "key-o", **smoothed())
    results = [await run(services, spec(), request({"Authorization": "key-o"})) for _ in range(3)]
    assert all(r is None for _, r in results)
    assert await services.store.get("rate-limit-key-o-allowance") is None
