"""The gate in front of every webhook attempt: waits, holding no slot, until its target admits it (not
paused, or the probe; under its cap; a rate token), then reports how the attempt ended and the endpoint
events that caused. Waits end on `halt` (shutdown). The state is targets.py's; the attempt the Sender's.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from gateway.config.model import EndpointPauseConfig, EventsConfig
from gateway.delivery.targets import Notice, Target, Targets


class Turn:
    """One admitted attempt: `end` says how it went (unsaid, as when cancelled, it counts as neither)."""

    def __init__(self, target: Target, probe: bool) -> None:
        self.target, self.probe = target, probe
        self.outcome: tuple[bool, bool, str] | None = None

    def end(self, delivered: bool, failed: bool, error: str) -> None:
        self.outcome = (delivered, failed, error)


class Gate:
    def __init__(
        self,
        pause: EndpointPauseConfig | None = None,
        cap: int = 0,
        rate: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.targets = Targets(pause or EndpointPauseConfig(), cap, rate)
        self._clock = clock
        self._changed: dict[str, asyncio.Event] = {}  # per target, set (and replaced) when it changes
        self._halted = asyncio.Event()
        self.notify: Callable[[Notice], object] | None = None  # the Sender's: endpoint events

    @classmethod
    def from_config(cls, events: EventsConfig) -> Gate:
        return cls(events.endpoint_pause, events.target_concurrency, events.target_rate)

    def halt(self) -> None:
        """Shutdown: deliveries waiting for their target stop now, unfinished (they stay in the outbox)."""
        self._halted.set()

    def paused_between(self, url: str, start: float) -> float:
        """Seconds the URL's target was paused since `start`: added to a delivery's retry deadline."""
        found = self.targets.find(url)
        return 0.0 if found is None else found.paused_between(start, self._clock())

    def view(self) -> list[dict[str, Any]]:
        return self.targets.view(self._clock())

    @asynccontextmanager
    async def turn(self, url: str) -> AsyncIterator[Turn]:
        """Wait until the target admits an attempt; the attempt runs inside (cancelled by `halt`)."""
        target = self.targets.get(url, self._clock())
        target.waiting += 1
        try:
            while (wait := target.delay(self._clock())) > 0:
                await self._wait(target, wait)
        finally:
            target.waiting -= 1
        turn = Turn(target, target.admit(self._clock()))
        try:
            yield turn
        finally:
            delivered, failed, error = turn.outcome or (False, False, "")
            event = target.done(self._clock(), turn.probe, delivered, failed, error)
            self._wake(target)
            if event is not None and self.notify is not None:
                reason = target.reason
                if event == "WebhookEndpointResumed":
                    reason = "probe delivered" if turn.probe else "an attempt delivered"
                message = "Webhook endpoint " + ("paused" if event.endswith("Paused") else "resumed")
                self.notify(Notice(event, {"message": message, "target": target.name, "reason": reason}))

    async def _wait(self, target: Target, seconds: float) -> None:
        """Until the target changes, `seconds` pass, or a halt (which cancels: nothing was attempted)."""
        changed = self._changed.setdefault(target.name, asyncio.Event())
        halted = asyncio.ensure_future(self._halted.wait())
        woken = asyncio.ensure_future(changed.wait())
        try:
            timeout = None if math.isinf(seconds) else seconds
            await asyncio.wait({halted, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            halted.cancel()
            woken.cancel()
        if self._halted.is_set():
            raise asyncio.CancelledError

    def _wake(self, target: Target) -> None:
        changed = self._changed.pop(target.name, None)
        if changed is not None:  # every waiter looks again; a later one waits on a new event
            changed.set()
