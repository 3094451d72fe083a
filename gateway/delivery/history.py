"""The delivery log: every webhook attempt, retained (retained.py: `events.retention`, shared on Redis)
and read newest first with filters and a cursor for `GET /tyk/webhooks/deliveries`; this process's last
N per (API, handler) in memory, and its counters since start.

It holds no bodies and no query strings (where a key could ride in a target URL), so the raw API key
never reaches it. `record` and `mark_last` never wait: the retained log writes in the background.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from gateway.delivery.retained import RetainedLog, order, valid_position


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


# An attempt's `state` (the issue names it `status`, which the HTTP status already holds): its outcome,
# with the two final failures as one, the dead letters a bulk resend looks for.
STATES = {"delivered": "delivered", "retrying": "retrying", "given up": "failed", "gone": "failed"}
STATUSES = ("delivered", "retrying", "failed", "given up", "gone")  # what the `status` filter takes
PAGE = 1_000  # records read from the retained log at once
MAX_LIMIT = 1_000


@dataclass(frozen=True, slots=True)
class Filter:
    """Which attempts a listing (or a bulk resend) wants; None matches anything."""

    api_id: str | None = None
    handler: str | None = None
    event: str | None = None
    status: str | None = None  # one of STATUSES: a state, or an outcome
    target: str | None = None  # the attempt's `target` (`POST http://host/path`), or its URL alone
    since: float | None = None  # Unix seconds, inclusive
    until: float | None = None  # exclusive
    before: str | None = None  # a position: only older records (a listing's `next`)
    limit: int = 100

    def matches(self, a: dict[str, Any]) -> bool:
        return (
            (self.api_id is None or a["api_id"] == self.api_id)
            and (self.handler is None or a["handler"] == self.handler)
            and (self.event is None or a["event"] == self.event)
            and (self.status is None or self.status in (a["outcome"], a["state"]))
            and (self.target is None or self.target in (a["target"], a["target"].split(" ", 1)[-1]))
            and (self.since is None or a["time"] >= self.since)
            and (self.until is None or a["time"] < self.until)
        )


def valid_cursor(text: str) -> bool:
    """A `before` cursor as a listing's `next` writes it."""
    return valid_position(text)


def shown(attempt: dict[str, Any]) -> dict[str, Any]:
    return {**attempt, "state": STATES.get(attempt["outcome"], attempt["outcome"])}


def target(method: str, url: str) -> str:
    """`POST http://host:port/path`: the query is dropped, the userinfo never kept."""
    split = urlsplit(url)
    port = f":{split.port}" if split.port else ""
    return f"{method} {split.scheme}://{split.hostname or ''}{port}{split.path}"


class DeliveryLog:
    def __init__(self, size: int, retained: RetainedLog | None = None) -> None:
        self._size = size
        self.retained = retained
        self._by_handler: dict[tuple[str, str], deque[Attempt]] = {}
        # Deliveries by final outcome ("delivered", "given up", "gone") since start, kept at any size.
        self.totals: Counter[str] = Counter()
        # Attempts since start by result: "success" (a 2xx) or "failure" (anything else, or no answer).
        self.attempts: Counter[str] = Counter()

    def record(self, attempt: Attempt) -> None:
        self.attempts["failure" if attempt.error else "success"] += 1
        if attempt.outcome in ("delivered", "gone"):  # "gone" here: refused before any request
            self.totals[attempt.outcome] += 1
        if self.retained is not None:
            self.retained.append(attempt)  # made a record at the flush, off the Sender's path
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
        if self.retained is not None and not self.retained.amend(
            lambda a: isinstance(a, Attempt) and a.webhook_id == webhook_id and a.handler == handler,
            lambda a: replace(a, outcome=outcome),
        ):  # its attempt already written: a mark the readers apply to the delivery's newest attempt
            self.retained.append({"mark": webhook_id, "outcome": outcome})
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

    async def scan(self, before: str | None = None) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Every retained attempt older than `before`, newest first, as (position, attempt with `state`);
        a final outcome written after its attempt (a mark) is applied to it."""
        if self.retained is None:
            return
        marks: dict[str, str] = {}
        while True:
            page = await self.retained.newest(before, PAGE)
            for position, record in page:
                before = position
                if "mark" in record:
                    marks.setdefault(str(record["mark"]), str(record["outcome"]))
                    continue
                outcome = marks.pop(str(record.get("webhook_id")), None)
                yield position, shown(record if outcome is None else {**record, "outcome": outcome})
            if len(page) < PAGE:
                return

    async def query(self, want: Filter) -> tuple[list[dict[str, Any]], str | None]:
        """Up to `want.limit` attempts matching, newest first, and the position to page on from (None:
        no more)."""
        out: list[dict[str, Any]] = []
        async for position, attempt in self.scan(want.before):
            if want.matches(attempt):
                out.append(attempt)
                if len(out) >= want.limit:
                    return out, position
        return out, None

    async def dead_letters(
        self, want: Filter, skip: Callable[[str], Awaitable[bool]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Deliveries whose newest attempt matches (`status` judged on that attempt: a failed delivery
        resent and delivered is no longer failed), newest first, those `skip` names left out; at most
        `want.limit`, and the position to page on from."""
        seen: set[str] = set()
        out: list[dict[str, Any]] = []
        below = None if want.before is None else order(want.before)
        async for position, attempt in self.scan():
            webhook_id = attempt["webhook_id"]
            if webhook_id in seen:
                continue
            seen.add(webhook_id)
            if below is not None and order(position) >= below:
                continue
            if want.matches(attempt) and not await skip(webhook_id):
                out.append(attempt)
                if len(out) >= want.limit:
                    return out, position
        return out, None
