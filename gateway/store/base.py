"""The Store protocol: the only way the gateway reaches shared state.

Two backends implement it: `memory.MemoryStore` (embedded, durable on disk, one process) and
`redis.RedisStore` (shared by any number of gateways). Keys are Tyk's Redis key names (`apikey-<key>`,
`webhook.cache.<md5>`, ...). Implementations raise StoreError on failure, never a backend exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from gateway.errors import StoreError

__all__ = ["PubSub", "Store", "StoreError"]


@runtime_checkable
class Store(Protocol):
    name: str  # the backend, as `storage.type` names it ("embedded", "redis"); /hello reports it

    async def get(self, key: str) -> str | None:
        """The value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        """Store a value; `ttl` in seconds, None or <= 0 = no expiry."""
        ...

    async def set_nx(self, key: str, value: str, ttl_ms: int) -> bool:
        """Atomically store if absent with a TTL in milliseconds (`SET NX PX`); True if it was stored."""
        ...

    async def lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        """Atomically take `key` for `owner` when absent, or extend it when `owner` already holds it
        (TTL `ttl_ms` either way); False, changing nothing, while someone else holds it."""
        ...

    async def delete(self, key: str) -> bool:
        """Remove a key; True if it existed."""
        ...

    async def release(self, key: str, value: str) -> bool:
        """Atomically remove `key` only while it holds `value` (compare-and-delete); True if removed."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """Every live key starting with `prefix` (admin listing only: never on the request path)."""
        ...

    async def incr(self, key: str, ttl: float | None = None) -> int:
        """Atomically increment; when the key is created, give it `ttl` seconds (None = none)."""
        ...

    async def incr_window(self, key: str, period: float) -> tuple[int, float]:
        """Tyk's quota counter in one atomic step: (count after this increment, seconds until reset or 0).

        A key with a TTL is in its period and is incremented. A missing key, or one without a TTL, is
        incremented with no expiry when `period` <= 0 (it never resets); otherwise a new period starts
        at 1, expiring after `period` seconds.
        """
        ...

    async def hit_and_count(
        self, window: str, limit: int, expiry: int, counter: str, period: float
    ) -> tuple[bool, int, float]:
        """A moving-window hit on `window` (a `limits` key: `limit` per `expiry` seconds), then, only when
        it is admitted, `incr_window(counter, period)`, as one step: (admitted, count, seconds to reset).
        Blocked, nothing is recorded and the count is 0. Redis does it in one round trip."""
        ...

    def rate_limit_storage(self) -> Any:
        """A `limits.aio.storage.Storage` on the same backend, for the moving-window limiter."""
        ...

    def pubsub(self) -> PubSub | None:
        """Messages between the gateways sharing this store (Redis), or None where there is no one to
        tell (the embedded store serves one process). Session cache drops and group reloads use it."""
        ...

    async def ping(self) -> bool:
        """True when the backend answers (health check)."""
        ...

    async def close(self) -> None:
        """Flush and release connections and files."""
        ...


class PubSub(Protocol):
    """The store's capability to tell every gateway on it something at once."""

    async def publish(self, channel: str, message: str) -> None: ...

    async def listen(
        self, channel: str, on_message: Callable[[str], None], on_state: Callable[[bool], None]
    ) -> None:
        """Deliver `channel`'s messages until cancelled; `on_state(True)` once subscribed, `(False)` when
        the subscription is lost (messages may be missed until the next True)."""
        ...
