"""Dashboard sign-ins: random session ids, each with its CSRF token and pending flash message, kept in the
store with an expiry (so every `--workers` process and every gateway on a shared Redis knows them), and
the failed-login limit per client address, counted there too.

Owns the secret comparison (constant time) and nothing else of the request: it never sees a cookie
header, a form or a response. The store holds a hash of each id, never the id; nothing here is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gateway.store.base import Store

SESSION_PREFIX = "dashboard-session-"
FAILURES_PREFIX = "dashboard-login-failures-"
FAILURES_ALLOWED = 5  # per client address per window; the next one is answered 429
FAILURE_WINDOW = 60.0


@dataclass(slots=True)
class Session:
    sid: str
    csrf: str
    expires: float  # Unix seconds
    flash: str = ""  # a message for the next page this session sees (after a redirect)


def same_secret(given: str, secret: str) -> bool:
    """The admin secret compared in constant time; an empty secret (REST API refused) signs nobody in."""
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def _key(sid: str) -> str:
    # A store dump (or a Redis MONITOR) shows no id a browser could present.
    return SESSION_PREFIX + hashlib.sha256(sid.encode()).hexdigest()


class Sessions:
    """Sign-ins in the store; StoreError from any call when it is down (the guard answers 503)."""

    def __init__(self, store: Callable[[], Store], ttl: float) -> None:
        self._store = store  # the started gateway's: read at each call, as the Dashboard is built first
        self._ttl = ttl

    async def start(self) -> Session:
        """A new sign-in, with a fresh id (the cookie's value) and a fresh CSRF token."""
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time() + self._ttl)
        await self.save(session)
        return session

    async def get(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 100:
            return None
        text = await self._store().get(_key(sid))
        if text is None:
            return None
        try:
            held = json.loads(text)
            session = Session(sid, str(held["csrf"]), float(held["expires"]), str(held.get("flash", "")))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > time.time() else None

    async def save(self, session: Session) -> None:
        """Write the session (new, or its flash changed), expiring when the sign-in does."""
        left = session.expires - time.time()
        if left <= 0:
            return
        record = json.dumps({"csrf": session.csrf, "expires": session.expires, "flash": session.flash})
        await self._store().set(_key(session.sid), record, left)

    async def end(self, sid: str | None) -> None:
        if sid:
            await self._store().delete(_key(sid))


class FailedLogins:
    """At most FAILURES_ALLOWED failed sign-ins per address in each window; then refused until it ends."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self._store = store

    async def blocked(self, address: str) -> bool:
        count = await self._store().get(FAILURES_PREFIX + address)
        return count is not None and count.isdigit() and int(count) >= FAILURES_ALLOWED

    async def failed(self, address: str) -> None:
        # The window starts at the first failure (the counter's TTL is set when it is created).
        await self._store().incr(FAILURES_PREFIX + address, FAILURE_WINDOW)

    async def succeeded(self, address: str) -> None:
        await self._store().delete(FAILURES_PREFIX + address)
