"""A trial send: one attempt of a Delivery now, outside the outbox, for "send a test event" to a webhook.

The request is the one the Sender would make (the delivery's headers, signed afresh as Standard
Webhooks), on the same client, so the outbound policy refuses what it would refuse for a real event.
One attempt and its answer, nothing more: no retry, no outbox, no delivery log, no cooldown.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from gateway.delivery import signing
from gateway.delivery.model import Delivery

TRIAL_TIMEOUT = 10.0  # seconds: someone is waiting for the answer on a page


async def attempt(http: httpx.AsyncClient, delivery: Delivery) -> dict[str, Any]:
    """`{"status": the HTTP status or None, "error": why it did not count as delivered or None,
    "latency_ms"}`; a target refused by the outbound policy is an error, never a request."""
    keys = tuple(signing.secret_key(s) for s in delivery.secrets)
    headers = [
        *delivery.headers,
        *signing.signature_headers(keys, delivery.id, int(time.time()), delivery.body),
    ]
    began = time.perf_counter()
    try:
        response = await http.request(
            delivery.method, delivery.url, content=delivery.body, headers=headers, timeout=TRIAL_TIMEOUT
        )
    except httpx.HTTPError as exc:
        cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return {"status": None, "error": cause, "latency_ms": _ms(began)}
    status = response.status_code
    error = None if 200 <= status < 300 else f"answered {status}"
    return {"status": status, "error": error, "latency_ms": _ms(began)}


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 3)
