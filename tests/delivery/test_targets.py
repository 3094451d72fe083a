"""The per-target state machine, time injected: a pause after N failures in a row within the window, one
probe per interval, a resume by a delivered probe, time paused measured, idle states dropped, the rate's
token bucket and the concurrency cap."""

from __future__ import annotations

import math

from gateway.config.model import EndpointPauseConfig
from gateway.delivery.targets import MAX_TARGETS, Target, Targets, target_of

PAUSE = EndpointPauseConfig(failures=3, window=60.0, probe_interval=10.0)


def attempt(target: Target, now: float, *, delivered: bool = False, failed: bool = True) -> str | None:
    assert target.delay(now) == 0
    probe = target.admit(now)
    return target.done(now, probe, delivered, failed and not delivered, "answered 500")


def test_target_is_scheme_host_and_port() -> None:
    assert target_of("http://user:pw@Hooks.example:8080/a/b?key=1") == "http://hooks.example:8080"
    assert target_of("https://hooks.example/x") == "https://hooks.example:443"
    assert target_of("http://hooks.example/x") == "http://hooks.example:80"


def test_three_failures_in_a_row_pause_then_a_probe_per_interval_then_resume() -> None:
    target = Target("t", PAUSE, 0, 0.0, 0.0)
    assert [attempt(target, 1.0), attempt(target, 2.0)] == [None, None]
    assert attempt(target, 3.0) == "WebhookEndpointPaused"
    assert target.reason == "3 failed attempts in a row: answered 500"
    assert target.delay(3.0) == 10.0  # nothing until the first probe
    assert target.delay(13.0) == 0
    assert target.admit(13.0) is True  # the probe
    assert target.delay(14.0) == math.inf  # one probe at a time
    assert target.done(14.0, True, False, True, "answered 500") is None  # still paused
    assert target.paused and target.delay(14.0) == 10.0  # the next probe an interval later
    assert attempt(target, 24.0, delivered=True) == "WebhookEndpointResumed"
    assert not target.paused and target.failures == 0 and target.delay(24.0) == 0
    view = target.view(25.0)
    assert view["state"] == "active" and view["paused_since"] is None and view["next_probe"] is None


def test_failures_spread_wider_than_the_window_do_not_pause() -> None:
    target = Target("t", PAUSE, 0, 0.0, 0.0)
    assert attempt(target, 0.0) is None
    assert attempt(target, 30.0) is None
    assert attempt(target, 61.0) is None  # the run began more than 60 s ago: this one starts another
    assert target.failures == 1 and not target.paused


def test_a_delivered_or_final_answer_breaks_the_run() -> None:
    target = Target("t", PAUSE, 0, 0.0, 0.0)
    attempt(target, 1.0)
    attempt(target, 2.0)
    attempt(target, 3.0, delivered=True)
    attempt(target, 4.0)
    attempt(target, 5.0, failed=False)  # a 404: the delivery's problem, not the target's health
    attempt(target, 6.0)
    assert target.failures == 2 and not target.paused


def test_no_pause_when_the_budget_is_off() -> None:
    target = Target("t", EndpointPauseConfig(failures=0), 0, 0.0, 0.0)
    for second in range(100):
        assert attempt(target, float(second)) is None


def test_time_paused_is_measured_between_two_moments() -> None:
    target = Target("t", PAUSE, 0, 0.0, 0.0)
    for second in (1.0, 2.0, 3.0):
        attempt(target, second)  # paused at 3
    assert target.paused_between(0.0, 8.0) == 5.0
    assert target.paused_between(5.0, 8.0) == 3.0
    attempt(target, 13.0, delivered=True)  # the probe resumes it: 10 s paused
    assert target.paused_between(0.0, 100.0) == 10.0
    assert target.paused_between(20.0, 100.0) == 0.0


def test_the_cap_admits_that_many_at_once() -> None:
    target = Target("t", PAUSE, 2, 0.0, 0.0)
    target.admit(0.0)
    target.admit(0.0)
    assert target.delay(0.0) == math.inf
    target.done(1.0, False, True, False, "")
    assert target.delay(1.0) == 0


def test_the_rate_is_a_token_bucket_of_one_seconds_worth() -> None:
    target = Target("t", PAUSE, 0, 4.0, 0.0)
    for _ in range(4):  # a full bucket: a burst of one second's worth
        assert target.delay(0.0) == 0
        target.admit(0.0)
    assert target.delay(0.0) == 0.25
    assert target.delay(0.25) == 0
    slow = Target("t", PAUSE, 0, 0.5, 0.0)
    slow.admit(0.0)
    assert slow.delay(0.0) == 2.0  # a bucket of one token, filled at half a token a second


def test_idle_states_are_dropped_and_busy_or_paused_ones_kept() -> None:
    targets = Targets(PAUSE)
    idle = targets.get("http://a:1/x", 0.0)
    busy = targets.get("http://b:1/x", 0.0)
    busy.admit(0.0)
    paused = targets.get("http://c:1/x", 0.0)
    for second in (1.0, 2.0, 3.0):
        attempt(paused, second)
    assert idle is targets.get("http://a:1/other", 5.0)  # one state per target, whatever the path
    targets.sweep(1000.0)
    assert [v["target"] for v in targets.view(1000.0)] == ["http://b:1", "http://c:1"]


def test_the_number_of_states_is_bounded() -> None:
    targets = Targets(PAUSE)
    for n in range(MAX_TARGETS + 5):
        targets.get(f"http://h{n}:1/", 1.0)  # all idle at once: dropped when the bound is reached
    assert len(targets.view(1.0)) <= MAX_TARGETS
