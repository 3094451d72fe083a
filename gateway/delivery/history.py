"""The delivery log: the last N webhook attempts per (API, handler), for `GET /tyk/webhooks/deliveries`.

In memory, per gateway process (each gateway reports what it sent). It holds no bodies and no query
strings (where a key could ride in a target URL), so the raw API key never reaches it. No I/O.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class Attempt:
    time: float  # Unix seconds the attempt started
    api_id: str
    handler: str
    event: str
    target: str  # method and URL without its query
    webhook_id: str
    attempt: int  # 1 for the first
    status: int  # the HTTP status, 0 when no response came
    latency_ms: float
    error: str = ""  # why it did not count as delivered; "" when it did
    outcome: str = ""  # "delivered", "retrying", "given up", "gone"


def target(method: str, url: str) -> str:
    """`POST http://host:port/path`: the query is dropped, the userinfo never kept."""
    split = urlsplit(url)
    port = f":{split.port}" if split.port else ""
    return f"{method} {split.scheme}://{split.hostname or ''}{port}{split.path}"


class DeliveryLog:
    def __init__(self, size: int) -> None:
        self._size = size
        self._by_handler: dict[tuple[str, str], deque[Attempt]] = {}
        # Deliveries by final outcome ("delivered", "given up", "gone") since start, kept at any size.
        self.totals: Counter[str] = Counter()
        # Attempts since start by result: "success" (a 2xx) or "failure" (anything else, or no answer).
        self.attempts: Counter[str] = Counter()

    def record(self, attempt: Attempt) -> None:
        self.attempts["failure" if attempt.error else "success"] += 1
        if attempt.outcome in ("delivered", "gone"):  # "gone" here: refused before any request
            self.totals[attempt.outcome] += 1
        if self._size <= 0:
            return
        key = (attempt.api_id, attempt.handler)
        found = self._by_handler.get(key)
        if found is None:
            found = self._by_handler[key] = deque(maxlen=self._size)
        found.append(attempt)

    def mark_last(self, api_id: str, handler: str, webhook_id: str, outcome: str) -> None:
        """Set the outcome of a delivery's latest attempt ("given up", "gone") once it is decided."""
        self.totals[outcome] += 1
        found = self._by_handler.get((api_id, handler))
        if found is None:
            return
        for i in reversed(range(len(found))):
            if found[i].webhook_id == webhook_id:
                found[i] = replace(found[i], outcome=outcome)
                return

    def entries(self, api_id: str | None = None, handler: str | None = None) -> list[dict[str, Any]]:
        """Attempts, newest first, optionally for one API and/or one handler."""
        out = [
            asdict(a)
            for (api, name), attempts in self._by_handler.items()
            if (api_id is None or api == api_id) and (handler is None or name == handler)
            for a in attempts
        ]
        out.sort(key=lambda a: a["time"], reverse=True)
        return out
