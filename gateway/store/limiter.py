"""The rate limiter: an exact moving window on the `limits` library, on whatever store is configured.

"2 per 10s" lets exactly 2 requests through in any 10-second window, shared by every gateway on the
same store. Unlike Tyk's sliding log, a blocked attempt is not recorded, so it never prolongs a block.
Store failures surface as StoreError; what to do about them is the chain's decision, not this module's.
On a Redis Cluster a key's window is kept in the hash slot of its quota counter (`_near`).
"""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from gateway.errors import StoreError

# A key's limiter identity (chain/rate_limit.py) and its quota counter (identity/sessions.quota_key) share
# their tail: rate-limit-[<scope>-]<key or hash> and quota-[<scope>-]<key or hash>.
RATE_PREFIX, QUOTA_PREFIX = "rate-limit-", "quota-"


class Limiter:
    __slots__ = ("_colocate", "_items", "_storage", "_strategy")

    def __init__(self, storage: Any) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._storage = storage
        self._items: dict[tuple[float, float], RateLimitItem] = {}
        self._colocate = bool(getattr(storage, "clustered", False))  # topology.LimitsStorage says

    def _near(self, key: str) -> str:
        """`key`, or on a cluster `{<its quota counter's slot name>}key`: the hash tag puts the window in
        the counter's slot, so `Store.hit_and_count` stays one script, and the counter keeps Tyk's name."""
        if not self._colocate or not key.startswith(RATE_PREFIX):
            return key
        tag = hash_tag(QUOTA_PREFIX + key[len(RATE_PREFIX) :])
        return key if "}" in tag else "{" + tag + "}" + key

    def _item(self, rate: float, per: float) -> RateLimitItem:
        item = self._items.get((rate, per))
        if item is None:
            # limits counts whole requests per whole seconds; Tyk allows floats. Never let more
            # through than configured: 2.5 per 10 s is 2 per 10 s, and 0.5 per 1 s is 1 per 2 s.
            if rate >= 1:
                item = RateLimitItemPerSecond(math.floor(rate), max(1, math.ceil(per)))
            else:
                item = RateLimitItemPerSecond(1, max(1, math.ceil(per / rate)))
            self._items[(rate, per)] = item
        return item

    def window(self, key: str, rate: float, per: float) -> tuple[str, int, int]:
        """(the storage's window key, requests allowed, seconds), for `Store.hit_and_count`."""
        item = self._item(rate, per)
        return item.key_for(self._near(key)), item.amount, item.get_expiry()

    async def hit(self, key: str, rate: float, per: float, allowance: int | None = None) -> bool:
        """Record a request for `key` if the window has room; False means blocked (nothing recorded).

        `allowance` (smoothing) admits fewer than `rate` into the same window: the window stays keyed
        by (rate, per), so its count does not depend on the allowance, which may change every request.
        """
        item, key = self._item(rate, per), self._near(key)
        try:
            if allowance is None:
                return bool(await self._strategy.hit(item, key))
            # The moving-window storage API itself (what strategy.hit calls), with a smaller limit.
            limit = max(0, min(allowance, item.amount))
            return limit > 0 and bool(
                await self._storage.acquire_entry(item.key_for(key), limit, item.get_expiry())
            )
        except Exception as exc:  # limits and redis raise their own types; the chain sees one
            raise StoreError(f"rate limiter: {exc}") from exc

    async def count(self, key: str, rate: float, per: float) -> int:
        """Requests recorded in the current window of (rate, per) for `key` (smoothing's current rate)."""
        item = self._item(rate, per)
        try:
            _, found = await self._storage.get_moving_window(
                item.key_for(self._near(key)), item.amount, item.get_expiry()
            )
        except Exception as exc:
            raise StoreError(f"rate limiter: {exc}") from exc
        return int(found)

    async def stats(self, key: str, rate: float, per: float) -> tuple[int, int]:
        """(remaining, reset unix seconds) of the window, for `rate_limits` response headers."""
        try:
            reset, remaining = await self._strategy.get_window_stats(self._item(rate, per), self._near(key))
        except Exception as exc:
            raise StoreError(f"rate limiter: {exc}") from exc
        return max(0, int(remaining)), int(reset or time.time())


def hash_tag(name: str) -> str:
    """What Redis Cluster hashes of `name`: the first non-empty {...}, else all of it."""
    start = name.find("{")
    end = name.find("}", start + 1) if start >= 0 else -1
    return name[start + 1 : end] if end > start + 1 else name
