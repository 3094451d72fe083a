"""The key expiry scan (KeyExpiringSoon, not in Tyk): every `events.key_expiry_scan_interval` seconds one
gateway per store reads every key's `expires` and fires once per key and warning threshold.

A lease in the store makes it one scanner across gateways on Redis; a SET NX marker per notice keeps a
restart or another gateway from repeating it. It reads the store in pages on its own task, never on the
request path, and never changes a key.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from gateway.config.model import EventsConfig
from gateway.errors import StoreError
from gateway.events.catalog import Event, EventMessage, KeyExpiringMeta
from gateway.log import Throttle, get_logger, redact_key
from gateway.store.base import Store
from gateway.tasks import cancel_and_wait

log = get_logger("key_expiry")

# Tyk's session names (identity/sessions.py owns them; monitors/ reads the store, not identity/).
KEY_PREFIX = "apikey-"
LEASE_KEY = "key-expiry:scanner"
MARK_PREFIX = "key-expiry:notice-"
DAY = 86_400
PAGE = 200  # keys read at once: a page's reads run together, then the lease is renewed
# The lease is renewed at each page and at each scan, and the wait between scans starts after the last
# renewal: an interval and this slack keep it from one scan to the next, and a dead scanner's role
# passes on within about one interval (one scan missed at most).
LEASE_SLACK = 10.0
# The embedded store serves one process (its folder is locked): the same owner across restarts, so a
# gateway that crashed does not wait out its own old lease.
ONE_PROCESS = "embedded"
# A notice's marker outlives the key's expiry: a key renewed later gets a new marker (new `expires`).
MARK_SLACK = DAY
MEMO_LIMIT = 100_000  # markers remembered locally (sparing their SET NX) before the memo is emptied

Fire = Callable[[EventMessage], object]


def threshold(remaining: float, warning_days: Sequence[int]) -> int | None:
    """The smallest warning threshold (days) that `remaining` seconds fall within, or None."""
    crossed = [days for days in warning_days if remaining <= days * DAY]
    return min(crossed) if crossed else None


def message(days: int) -> str:
    return f"Key expiring within {days} day" + ("" if days == 1 else "s")


def marker(key_id: str, expires: int, days: int) -> str:
    # The id may be a raw key (hash_keys off): the marker holds only its hash. `expires` is in the name
    # so that a key given a new expiry is warned again.
    return f"{MARK_PREFIX}{hashlib.sha256(key_id.encode()).hexdigest()[:32]}-{expires}-{days}"


class KeyExpiryScanner:
    """Built by app/ with the store and `bus.fire`; `start`/`stop` with the gateway. `clock` and `node_id`
    are the tests'. Off (no task) when `key_expiry_warning_days` is empty."""

    def __init__(
        self,
        config: EventsConfig,
        store: Store,
        fire: Fire,
        *,
        clock: Callable[[], float] = time.time,
        node_id: str | None = None,
    ) -> None:
        self.warning_days = tuple(sorted(set(config.key_expiry_warning_days)))
        self.interval = config.key_expiry_scan_interval
        self.lease_ttl_ms = int(1000 * (self.interval + LEASE_SLACK))
        self.node_id = node_id or (ONE_PROCESS if store.name == "embedded" else uuid.uuid4().hex)
        self._store, self._fire, self._clock = store, fire, clock
        self._memo: dict[str, float] = {}  # marker -> when it lapses (this clock)
        self._task: asyncio.Task[None] | None = None
        self._errors = Throttle(300.0)
        self.rounds = 0  # scans tried since start, led or not (tests wait on it)

    def start(self) -> None:
        if self.warning_days:
            self._task = asyncio.create_task(self._loop(), name="key-expiry-scan")

    async def stop(self) -> None:
        if self._task is None:
            return
        await cancel_and_wait(self._task)
        self._task = None
        with contextlib.suppress(StoreError):  # hand the role over now, not when the lease lapses
            await self._store.release(LEASE_KEY, self.node_id)

    async def _loop(self) -> None:
        while True:  # the first scan at once: a restart must not wait an interval to warn
            try:
                await self.scan()
            except Exception:  # one bad scan must not end the scanning for good
                log.exception("key expiry scan failed")
            self.rounds += 1
            await asyncio.sleep(self.interval)

    async def scan(self) -> int:
        """One pass over every key, if this gateway holds the lease: the notices fired. A store error
        ends the pass (logged, throttled); the next interval tries again."""
        try:
            if not await self._lead():
                return 0
            names = await self._store.keys(KEY_PREFIX)
            fired = 0
            for start in range(0, len(names), PAGE):
                page = names[start : start + PAGE]
                values = await asyncio.gather(*(self._store.get(name) for name in page))
                for name, value in zip(page, values, strict=True):
                    if value is not None and await self._check(name[len(KEY_PREFIX) :], value):
                        fired += 1
                # Renewed after every page, the last too: the wait for the next scan starts from here.
                if not await self._lead():
                    return fired  # another gateway took over (this one stalled): it scans now
            return fired
        except StoreError as exc:
            if self._errors.allow():
                log.warning("key expiry scan skipped, store unavailable: %s", exc)
            return 0

    async def _lead(self) -> bool:
        return await self._store.lease(LEASE_KEY, self.node_id, self.lease_ttl_ms)

    async def _check(self, key_id: str, stored: str) -> bool:
        try:
            session = json.loads(stored)
            expires, org_id = int(session.get("expires") or 0), str(session.get("org_id") or "")
        except (ValueError, TypeError, AttributeError):
            return False  # not a session this scan can read; the REST API reports it when asked
        now = self._clock()
        remaining = expires - now
        if expires <= 0 or remaining <= 0:
            return False  # never expires, or expired already (KeyExpired answers its requests)
        days = threshold(remaining, self.warning_days)
        if days is None:
            return False
        name = marker(key_id, expires, days)
        if self._memo.get(name, 0.0) > now:
            return False
        ttl = remaining + MARK_SLACK
        fresh = await self._store.set_nx(name, "1", int(ttl * 1000))
        if len(self._memo) >= MEMO_LIMIT:
            self._memo.clear()
        self._memo[name] = now + ttl
        if not fresh:
            return False
        meta = KeyExpiringMeta(
            message(days),
            key=redact_key(key_id),
            expires_at=datetime.fromtimestamp(expires, UTC),
            days_remaining=int(remaining // DAY),
            org_id=org_id,
        )
        self._fire(EventMessage(Event.KeyExpiringSoon, meta, "", org_id))
        log.info("KeyExpiringSoon: key %s expires within %d days", redact_key(key_id), days)
        return True
