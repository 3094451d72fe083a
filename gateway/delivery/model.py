"""What reliable delivery passes between its parts: a Delivery (one rendered webhook request, the same on
every attempt), its RetryPolicy, and the two seams, Outbox (where accepted deliveries wait, durably) and
Submitter (what a webhook handler hands a delivery to). Pure data and protocols: no I/O here.
"""

from __future__ import annotations

import base64
import itertools
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from gateway.config.model import EventsConfig


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # Waits are uniform in [0, min(max_delay, base_delay * 2**n)], so retries span the hour: once capped
    # they average 300 s, and a receiver down up to max_elapsed - max_delay (50 min) always sees one more
    # attempt. 40 attempts end before the hour only if 39 waits sum under 3,600 s (p ~ 1.5e-10, with
    # instant failures): the budget, not the count, ends retrying.
    max_attempts: int = 40  # attempts in all, the first included
    max_elapsed: float = 3600.0  # seconds after acceptance after which no attempt starts
    base_delay: float = 1.0
    max_delay: float = 600.0

    @classmethod
    def from_config(cls, events: EventsConfig) -> RetryPolicy:
        return cls(
            events.retry_max_attempts,
            events.retry_max_elapsed,
            events.retry_base_delay,
            events.retry_max_delay,
        )


# A random 64-bit prefix per process plus a counter: unique across gateways and restarts without a
# random draw (a syscall) for every event of a flood.
_PREFIX = "msg_" + os.urandom(8).hex()
_COUNTER = itertools.count()


def _new_prefix() -> None:
    global _PREFIX
    _PREFIX = "msg_" + os.urandom(8).hex()


os.register_at_fork(after_in_child=_new_prefix)  # forked workers must not share the sequence


def new_id() -> str:
    """A Standard Webhooks message id: unique per event and handler, kept by every attempt."""
    return f"{_PREFIX}{next(_COUNTER):016x}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook request as rendered when its event was handled; retries resend exactly this."""

    api_id: str  # "" for tyk.conf handlers and the quota monitor
    handler: str  # the handler's name, as the delivery log shows it
    event: str
    method: str
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    secrets: tuple[str, ...] = ()  # Standard Webhooks `whsec_...` secrets; none = unsigned
    reservation: str = ""  # the cooldown key to release if delivery finally fails
    id: str = field(default_factory=new_id)
    accepted: float = 0.0  # Unix time the handler accepted the event; retry deadlines count from it
    # Not in Tyk: the traceparent of the request that fired the event ("" none, or tracing off), kept in
    # the outbox so that every attempt's span links back to that request, after a restart too.
    trace: str = ""

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["body"] = base64.b64encode(self.body).decode()
        out["headers"] = [list(pair) for pair in self.headers]
        out["secrets"] = list(self.secrets)
        return out

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Delivery:
        """The inverse of to_json; raises KeyError, TypeError or ValueError on a damaged record."""
        return cls(
            api_id=str(raw["api_id"]),
            handler=str(raw["handler"]),
            event=str(raw["event"]),
            method=str(raw["method"]),
            url=str(raw["url"]),
            body=base64.b64decode(raw["body"]),
            headers=tuple((str(k), str(v)) for k, v in raw["headers"]),
            retry=RetryPolicy(**raw["retry"]),
            secrets=tuple(str(s) for s in raw["secrets"]),
            reservation=str(raw["reservation"]),
            id=str(raw["id"]),
            accepted=float(raw["accepted"]),
            trace=str(raw.get("trace", "")),  # records written before traces have none
        )


class Outbox(Protocol):
    """Where accepted deliveries wait until they are finished: durable unless it says otherwise."""

    async def add(self, delivery: Delivery) -> None:
        """Persist; once this returns the delivery survives a restart (raises StoreError if it cannot)."""
        ...

    async def take(self, count: int, wait: float) -> list[Delivery]:
        """Up to `count` deliveries to attempt, those left unfinished by an earlier run first; waits
        up to `wait` seconds when there are none. A delivery taken and not finished is handed out again
        after a restart (or, on Redis, to another gateway once it has been idle `outbox_claim_idle`)."""
        ...

    async def finish(self, delivery_id: str) -> None:
        """Delivered, or given up on: never handed out again."""
        ...

    async def backlog(self) -> int:
        """Deliveries added and not yet finished (on Redis, by any gateway): 0 when all are done."""
        ...

    async def oldest(self) -> float | None:
        """Unix time the oldest delivery not yet finished was added (on Redis, by any gateway); None
        when there is none."""
        ...

    async def close(self) -> None: ...


class AttemptSpan(Protocol):
    """One attempt's trace span (tyk.conf `opentelemetry`): the headers naming it, sent with the attempt."""

    headers: tuple[tuple[str, str], ...]

    def end(self, status: int, error: str) -> None:
        """The attempt's answer (0: none came) and the error text ("" for a 2xx)."""
        ...


class AttemptTracer(Protocol):
    """Makes a span per webhook attempt; the Sender has one only when tracing is on."""

    def start(self, delivery: Delivery, attempt: int) -> AttemptSpan: ...


class Submitter(Protocol):
    """What webhook handlers hand their rendered requests to (the Deliverer)."""

    async def submit(self, delivery: Delivery) -> None:
        """Accept for delivery; returns once accepted (in the outbox), never waiting for the send."""
        ...
