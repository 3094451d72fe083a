"""A placeholder Sender: one attempt per delivery, 2xx = delivered, anything else = given up.

Replaced at merge by the retrying, signing sender (same constructor and call). It never retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from gateway.delivery.model import Delivery
from gateway.log import get_logger

log = get_logger("delivery.sender")


class Sender:
    def __init__(
        self, http: httpx.AsyncClient, history: Any = None, clock: Callable[[], float] = time.time
    ) -> None:
        self._http = http

    async def __call__(self, delivery: Delivery) -> bool:
        headers = [*delivery.headers, ("webhook-id", delivery.id)]
        try:
            response = await self._http.request(
                delivery.method, delivery.url, content=delivery.body, headers=headers
            )
        except httpx.HTTPError as exc:
            log.warning(
                "webhook %r to %s failed: %s", delivery.handler, delivery.url, str(exc) or type(exc).__name__
            )
            return False
        if 200 <= response.status_code < 300:
            return True
        log.warning("webhook %r: %s answered %d", delivery.handler, delivery.url, response.status_code)
        return False
