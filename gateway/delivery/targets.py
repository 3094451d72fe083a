"""Per-target state of webhook delivery (a target is scheme://host:port): the failure budget that pauses
it, the probe that resumes it, its attempts on the wire against `events.target_concurrency`, its token
bucket for `events.target_rate`, and the pauses it went through. Pure and synchronous, time injected:
the waiting is gate.py's, the attempts the Sender's. Per process; idle states are dropped.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gateway.config.model import EndpointPauseConfig

IDLE_AFTER = 600.0  # seconds unused (active, nothing in flight or waiting) before a state is dropped
SWEEP_EVERY = 60.0  # seconds between looks for idle states
MAX_TARGETS = 10_000  # past this, idle states are dropped at once, however recent
PAUSES_KEPT = 32  # past pauses per target: what deadlines are extended by (see `paused_between`)


def target_of(url: str) -> str:
    """`https://host:443`: what the budget, the caps and the pauses are kept per (no path, no userinfo)."""
    split = urlsplit(url)
    port = split.port or (443 if split.scheme == "https" else 80)
    return f"{split.scheme}://{split.hostname or ''}:{port}"


@dataclass(frozen=True, slots=True)
class Notice:
    """An event of the gateway's own that delivery reports (app/ makes it the catalogue's event): delivery
    must not import the event side, so it names the event and its meta fields."""

    event: str  # WebhookDeliveryFailed, WebhookEndpointPaused, WebhookEndpointResumed
    fields: dict[str, Any]
    api_id: str = ""


class Target:
    """One target's state machine: active, or paused (since, the next probe, whether one is out)."""

    def __init__(self, name: str, pause: EndpointPauseConfig, cap: int, rate: float, now: float) -> None:
        self.name = name
        self._pause, self.cap, self.rate = pause, cap, rate
        self.in_flight = 0  # attempts admitted and not yet done
        self.waiting = 0  # deliveries waiting to be admitted (paused, cap or rate)
        self.failures = 0  # failed attempts in a row
        self._first_failed = 0.0  # when the current run of failures began (the window counts from it)
        self.paused_since: float | None = None
        self.next_probe = 0.0
        self.probing = False  # a probe is on the wire: no other attempt while paused
        self.reason = ""  # why it was paused last
        self._tokens, self._filled = max(1.0, rate), now  # a full bucket: one second's worth, at least 1
        self.used = now
        self._pauses: deque[tuple[float, float]] = deque(maxlen=PAUSES_KEPT)

    @property
    def paused(self) -> bool:
        return self.paused_since is not None

    def delay(self, now: float) -> float:
        """Seconds before an attempt may be admitted (math.inf: until something changes); 0: admit now."""
        if self.paused_since is not None and (self.probing or now < self.next_probe):
            return math.inf if self.probing else self.next_probe - now
        if self.cap > 0 and self.in_flight >= self.cap:
            return math.inf  # until an attempt ends
        if self.rate > 0:
            self._refill(now)
            if self._tokens < 1.0:
                return (1.0 - self._tokens) / self.rate
        return 0.0

    def admit(self, now: float) -> bool:
        """Take the attempt (call only when `delay` is 0, with no await between); True if it is the probe."""
        if self.rate > 0:
            self._tokens -= 1.0
        self.in_flight += 1
        self.used = now
        if self.paused_since is None:
            return False
        self.probing = True
        self.next_probe = now + self._pause.probe_interval
        return True

    def done(self, now: float, probe: bool, delivered: bool, failed: bool, error: str) -> str | None:
        """An admitted attempt ended: `failed` counts against the budget (no answer, 5xx, 408/425/429).
        Returns the event this caused, if any; a cancelled attempt is done with neither flag."""
        self.in_flight -= 1
        self.used = now
        if probe:
            self.probing = False
        if delivered:
            self.failures = 0
            if self.paused_since is None:
                return None
            self._pauses.append((self.paused_since, now))
            self.paused_since = None
            return "WebhookEndpointResumed"
        if probe:  # not delivered: stays paused, the next probe an interval from now
            self.next_probe = now + self._pause.probe_interval
        if not failed:
            return None
        if self.failures == 0 or now - self._first_failed > self._pause.window:
            self.failures, self._first_failed = 0, now
        self.failures += 1
        if self.paused_since is not None or not 0 < self._pause.failures <= self.failures:
            return None
        self.paused_since, self.next_probe = now, now + self._pause.probe_interval
        self.reason = f"{self.failures} failed attempts in a row: {error}"
        return "WebhookEndpointPaused"

    def paused_between(self, start: float, now: float) -> float:
        """Seconds this target was paused between `start` and `now` (the pauses kept): time that does not
        count against a delivery's retry budget."""
        spans = [*self._pauses, *([(self.paused_since, now)] if self.paused_since is not None else [])]
        return sum(max(0.0, min(end, now) - max(begin, start)) for begin, end in spans)

    def idle(self, now: float) -> bool:
        return self.paused_since is None and not self.in_flight and not self.waiting

    def view(self, now: float) -> dict[str, Any]:
        paused = self.paused_since is not None
        return {
            "target": self.name,
            "state": "paused" if paused else "active",
            "consecutive_failures": self.failures,
            "paused_since": self.paused_since,
            "reason": self.reason if paused else "",
            "next_probe": max(now, self.next_probe) if paused and not self.probing else None,
            "probing": self.probing,
            "in_flight": self.in_flight,
            "waiting": self.waiting,
            "concurrency": self.cap,
            "rate": self.rate,
        }

    def _refill(self, now: float) -> None:
        self._tokens = min(max(1.0, self.rate), self._tokens + (now - self._filled) * self.rate)
        self._filled = now


class Targets:
    """Every target in use, by name, with idle ones dropped: memory follows the targets in use."""

    def __init__(self, pause: EndpointPauseConfig, cap: int = 0, rate: float = 0.0) -> None:
        self.pause, self.cap, self.rate = pause, cap, rate
        self._by_name: dict[str, Target] = {}
        self._swept = 0.0

    def get(self, url: str, now: float) -> Target:
        name = target_of(url)
        found = self._by_name.get(name)
        if found is None:
            if now - self._swept > SWEEP_EVERY or len(self._by_name) >= MAX_TARGETS:
                self.sweep(now, 0.0 if len(self._by_name) >= MAX_TARGETS else IDLE_AFTER)
            found = self._by_name[name] = Target(name, self.pause, self.cap, self.rate, now)
        return found

    def find(self, url: str) -> Target | None:
        return self._by_name.get(target_of(url))

    def sweep(self, now: float, idle_for: float = IDLE_AFTER) -> None:
        self._swept = now
        for name in [n for n, t in self._by_name.items() if t.idle(now) and now - t.used >= idle_for]:
            del self._by_name[name]

    def view(self, now: float) -> list[dict[str, Any]]:
        return [t.view(now) for _, t in sorted(self._by_name.items())]
