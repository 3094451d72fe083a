"""The Sender: every attempt of one Delivery, until a 2xx, a final answer, or the retry policy runs out.

At most `concurrency` attempts are on the wire at once, whoever's they are: a delivery waiting for its
next attempt holds no slot, so a receiver that is down delays nobody else's webhooks. Full-jitter
exponential backoff, `Retry-After` honoured, 410 Gone remembered per target, a target the
outbound policy refuses given up at once, redirects never followed, each attempt signed afresh (Standard
Webhooks) and recorded in the delivery log. Each attempt passes its target's gate first (gate.py: the
pause, the per-target cap and rate; time paused and failed probes are outside the retry budget), and
a delivery given up is reported as WebhookDeliveryFailed. It never finishes or releases anything in
the outbox: the Deliverer does, from the returned verdict.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from gateway.delivery import signing
from gateway.delivery.gate import Gate
from gateway.delivery.history import Attempt, DeliveryLog, target
from gateway.delivery.model import AttemptTracer, Delivery
from gateway.delivery.targets import Notice
from gateway.log import Throttle, get_logger
from gateway.outbound import OutboundRefused

log = get_logger("delivery.sender")

# 4xx answers that may succeed later (timeout, too early, too many requests); any other 4xx will not.
RETRYABLE_4XX = frozenset({408, 425, 429})
# A target that answered 410 Gone gets nothing more from this gateway for this long.
GONE_FOR = 3600.0
FAILED = "WebhookDeliveryFailed"  # the event a delivery given up fires (never for one carrying it)


class Sender:
    def __init__(
        self,
        http: httpx.AsyncClient,
        history: DeliveryLog | None = None,
        clock: Callable[[], float] = time.time,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        rand: Callable[[], float] = random.random,
        concurrency: int = 64,
        gate: Gate | None = None,
    ) -> None:
        self._http = http
        self._slots = asyncio.Semaphore(max(1, concurrency))  # attempts on the wire at once
        self._history = history
        self._clock = clock
        self._sleep = sleep or self._pause
        self._halted = asyncio.Event()
        self._rand = rand
        self._gone: dict[str, float] = {}  # target URL -> until when it is skipped
        self._fail_log = Throttle(10.0)
        self.spans: AttemptTracer | None = None  # set by app/traced.py when tracing is on
        # Per-target pause, cap and rate; none of them unless given (the gateway's come from tyk.conf).
        self.gate = gate or Gate(clock=clock)
        self.gate.notify = self._notify
        self.fire: Callable[[Notice], object] | None = None  # set by app/parts.py: the gateway's events

    def halt(self) -> None:
        """Shutdown: deliveries waiting to retry stop now, unfinished, and stay in the outbox."""
        self._halted.set()
        self.gate.halt()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._halted.wait(), seconds)
        except TimeoutError:
            return
        # Cancelled, not given up: the Deliverer leaves it in the outbox for the next start.
        raise asyncio.CancelledError

    async def __call__(self, delivery: Delivery) -> bool:
        """True once delivered; False when given up (the Deliverer then frees its cooldown)."""
        policy = delivery.retry
        keys = tuple(signing.secret_key(s) for s in delivery.secrets)
        start = delivery.accepted or self._clock()
        attempt = spared = 0  # attempts made; failed probes among them, which its budget does not count
        while True:
            attempt += 1
            if self._gone.get(delivery.url, 0.0) > self._clock():
                gone = "target answered 410 Gone earlier"
                self._record(delivery, attempt, 0, 0.0, gone, "gone")
                self._failed(delivery, attempt - 1, gone)  # the attempts made: this one was not
                return False
            # The target's turn before a global slot: a slow or paused target holds none beyond its cap.
            async with self.gate.turn(delivery.url) as turn:
                async with self._slots:
                    status, error, wait = await self._attempt(delivery, attempt, keys)
                unwell = _unwell(status, wait)
                turn.end(200 <= status < 300, unwell, error)
            if 200 <= status < 300:
                return True
            if turn.probe and unwell:  # the target failed its probe and is still paused: not our budget
                spared += 1
                continue  # no backoff of ours: the gate lets the next probe through an interval later
            if status == 410:
                self._gone[delivery.url] = self._clock() + GONE_FOR
                self._finish(delivery, attempt, status, error, "gone")
                return False
            counted = attempt - spared
            final = (300 <= status < 500 and status not in RETRYABLE_4XX) or counted >= policy.max_attempts
            if wait is None:
                ceiling = min(policy.max_delay, policy.base_delay * 2 ** (counted - 1))
                wait = self._rand() * ceiling  # full jitter: spreads a burst of retries over the window
            # Time its target spent paused is not the delivery's: it could not be attempted then.
            deadline = start + policy.max_elapsed + self.gate.paused_between(delivery.url, start)
            if final or self._clock() + wait > deadline:
                self._finish(delivery, attempt, status, error, "given up")
                return False
            await self._sleep(wait)

    async def _attempt(
        self, delivery: Delivery, attempt: int, keys: tuple[signing.Key, ...]
    ) -> tuple[int, str, float | None]:
        """(status or 0, error text, the server's Retry-After in seconds or None) of one request."""
        headers = [
            *delivery.headers,
            *signing.signature_headers(keys, delivery.id, int(self._clock()), delivery.body),
        ]
        span = None if self.spans is None else self.spans.start(delivery, attempt)
        if span is not None:
            headers += span.headers
        started, began = self._clock(), time.perf_counter()
        try:
            response = await self._http.request(
                delivery.method, delivery.url, content=delivery.body, headers=headers
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if span is not None:
                span.end(0, error)
            self._record(delivery, attempt, 0, _ms(began), error, "retrying", started)
            # The outbound policy refuses the target on every attempt: waiting "forever" gives it up now.
            return 0, error, math.inf if isinstance(exc, OutboundRefused) else None
        status = response.status_code
        ok = 200 <= status < 300
        error = "" if ok else f"answered {status}"
        if span is not None:
            span.end(status, error)
        self._record(delivery, attempt, status, _ms(began), error, "delivered" if ok else "retrying", started)
        wait = _retry_after(response, self._clock()) if status in (429, 503) else None
        return status, error, wait

    def _finish(self, delivery: Delivery, attempt: int, status: int, error: str, outcome: str) -> None:
        if self._history is not None:
            self._history.mark_last(delivery.api_id, delivery.handler, delivery.id, outcome)
        if self._fail_log.allow(f"{delivery.api_id}:{delivery.handler}"):
            log.warning(
                "webhook %r for api %r: %s after %d attempt(s) to %s: %s",
                delivery.handler,
                delivery.api_id,
                outcome,
                attempt,
                target(delivery.method, delivery.url),
                error or status,
                extra={  # the JSON line's fields (log_format "json"); the target without its query
                    "api_id": delivery.api_id,
                    "event": delivery.event,
                    "handler": delivery.handler,
                    "target_host": urlsplit(delivery.url).hostname or "",
                    "webhook_id": delivery.id,
                },
            )
        self._failed(delivery, attempt, error or f"answered {status}")

    def _failed(self, delivery: Delivery, attempts: int, error: str) -> None:
        """WebhookDeliveryFailed for a delivery given up, unless it carried that event itself (no loops)."""
        if delivery.event == FAILED:
            return
        fields = {
            "message": "Webhook delivery failed",
            "webhook_id": delivery.id,
            "target": target(delivery.method, delivery.url),
            "attempts": attempts,
            "last_error": error,
            "event": delivery.event,
            "api_id": delivery.api_id,
        }
        self._notify(Notice(FAILED, fields, delivery.api_id))

    def _notify(self, notice: Notice) -> None:
        if self.fire is not None:
            self.fire(notice)

    def _record(
        self,
        delivery: Delivery,
        attempt: int,
        status: int,
        latency_ms: float,
        error: str,
        outcome: str,
        started: float | None = None,
    ) -> None:
        if self._history is None:
            return
        self._history.record(
            Attempt(
                time=self._clock() if started is None else started,
                api_id=delivery.api_id,
                handler=delivery.handler,
                event=delivery.event,
                target=target(delivery.method, delivery.url),
                webhook_id=delivery.id,
                attempt=attempt,
                status=status,
                latency_ms=latency_ms,
                error=error,
                outcome=outcome,
            )
        )


def _unwell(status: int, wait: float | None) -> bool:
    """An attempt that counts against its target's failure budget: no answer (not a refusal by the
    outbound policy, which no request reached), a 5xx, or a 4xx that asks to be retried."""
    if status == 0:
        return wait != math.inf
    return status >= 500 or status in RETRYABLE_4XX


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)


def _retry_after(response: httpx.Response, now: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None
