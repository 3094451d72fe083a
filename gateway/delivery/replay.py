"""Bulk resend (`POST /tyk/webhooks/deliveries/resend`): the dead letters a filter names, each accepted
again by the Deliverer (same webhook-id, a new series of attempts), idempotent per request id.

Per request id, each delivery resent is marked in the store for the retention, after its resend is in
the outbox: a client that repeats the call (after a timeout, a gateway restart) resends only what the
first call did not reach; at worst one delivery twice under its one webhook-id. It never sends itself.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from gateway.delivery.deliverer import Deliverer
from gateway.delivery.history import DeliveryLog, Filter
from gateway.store.base import Store

DONE_PREFIX = "webhook-replay."
DONE_TTL = 86_400.0  # with retention 0: a client's retries come within a day


@dataclass(slots=True)
class Replayed:
    resent: list[str] = field(default_factory=list)  # webhook ids accepted again
    missing: list[str] = field(default_factory=list)  # listed, but their bodies are no longer kept
    next: str | None = None  # the position to page on from (the request's `before`); None: no more

    def to_json(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "resent": len(self.resent),
            "ids": self.resent,
            "missing": self.missing,
            "next": self.next,
        }


class Replayer:
    def __init__(self, log: DeliveryLog, deliverer: Deliverer, store: Store, retention: float) -> None:
        self._log = log
        self._deliverer = deliverer
        self._store = store
        self._ttl = retention if retention > 0 else DONE_TTL

    @staticmethod
    def done_key(request_id: str, webhook_id: str) -> str:
        # Hashed: a request id is the client's text, a store key must stay short and plain.
        digest = hashlib.sha256(request_id.encode()).hexdigest()[:32]
        return f"{DONE_PREFIX}{digest}.{webhook_id}"

    async def resend(self, want: Filter, request_id: str = "") -> Replayed:
        """Resend up to `want.limit` deliveries whose newest attempt matches `want`, newest first,
        leaving out those this request id already resent."""

        async def done(webhook_id: str) -> bool:
            if not request_id:
                return False
            return await self._store.get(self.done_key(request_id, webhook_id)) is not None

        found, position = await self._log.dead_letters(want, done)
        out = Replayed(next=position)
        for attempt in found:
            webhook_id = attempt["webhook_id"]
            if not await self._deliverer.resend(webhook_id):
                out.missing.append(webhook_id)
                continue
            out.resent.append(webhook_id)
            if request_id:  # after the resend is in the outbox: a crash in between resends it again
                await self._store.set(self.done_key(request_id, webhook_id), "1", ttl=self._ttl)
        return out
