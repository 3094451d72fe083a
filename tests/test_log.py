"""Throttle: once per interval per key, and the count of what it held back, on a clock the test moves."""

from __future__ import annotations

from gateway.log import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_allow_count_reports_what_was_held_back_since_the_last_line() -> None:
    clock = Clock()
    throttle = Throttle(30.0, clock=clock)
    assert throttle.allow_count("a") == 0  # the first line stands for itself alone
    assert [throttle.allow_count("a") for _ in range(3)] == [None, None, None]
    assert throttle.allow_count("b") == 0  # keys are throttled apart
    clock.now += 29.9
    assert throttle.allow_count("a") is None
    clock.now += 0.1
    assert throttle.allow_count("a") == 4
    clock.now += 30
    assert throttle.allow_count("a") == 0  # the count starts again after each line
    assert throttle.suppressed == 4


def test_allow_is_allow_count_without_the_count() -> None:
    clock = Clock()
    throttle = Throttle(10.0, clock=clock)
    assert [throttle.allow(), throttle.allow()] == [True, False]
    clock.now += 10
    assert throttle.allow_count() == 1
