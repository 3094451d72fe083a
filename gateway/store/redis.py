"""The Redis store: any number of gateways share keys, counters, cooldowns and rate limits, on one
Redis, Sentinel or Cluster (store/topology.py builds the clients for each).

It owns the commands and turns every redis-py exception into a StoreError naming the server. Every
script and transaction touches one hash slot (the Limiter tags what must share one). It keeps no state.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any, cast

import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage
from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import RedisClusterException, RedisError

from gateway.config.storage import StorageConfig
from gateway.errors import StoreError
from gateway.log import get_logger
from gateway.store import topology
from gateway.store.base import PubSub
from gateway.store.resp import RespError, digest

log = get_logger("store")

# INCR plus a TTL set only on creation, atomically: one script, run by EVALSHA (EVAL once if unknown).
INCR_EXPIRE = files("gateway.store").joinpath("lua/incr_expire.lua").read_text(encoding="utf-8")
# Take a key when absent or extend it when ours, in one step: no other gateway can slip in between.
LEASE = files("gateway.store").joinpath("lua/lease.lua").read_text(encoding="utf-8")
# Tyk's quota step (read the TTL, INCR or start a new period) as one script: no lock, no race.
INCR_WINDOW = files("gateway.store").joinpath("lua/incr_window.lua").read_text(encoding="utf-8")
# A key's rate limit and quota together: the request path's only round trip once its session is cached.
HIT_AND_COUNT = files("gateway.store").joinpath("lua/hit_and_count.lua").read_text(encoding="utf-8")
# Compare-and-delete: a webhook cooldown is freed only by the delivery that took it.
RELEASE = files("gateway.store").joinpath("lua/release.lua").read_text(encoding="utf-8")
_INCR_SHA, _WINDOW_SHA, _HIT_SHA, _RELEASE_SHA, _LEASE_SHA = (
    digest(s) for s in (INCR_EXPIRE, INCR_WINDOW, HIT_AND_COUNT, RELEASE, LEASE)
)
# SCAN's MATCH is a glob: a prefix is matched literally, so its glob characters are escaped.
_GLOB_ESCAPES = str.maketrans({c: "\\" + c for c in "\\*?[]"})


class RedisStore:
    """`storage.type: "redis"`. Connects lazily: opening never fails, the first command may."""

    name = "redis"

    def __init__(self, cfg: StorageConfig) -> None:
        links = self._links = topology.connect(cfg)
        self.address = links.address
        self.timeout = links.timeout
        self._client = links.client
        # The request path's commands: one pipelined connection (store.resp), or the cluster client.
        self._fast = links.fast
        if links.sentinel is not None:
            with contextlib.suppress(RuntimeError):  # no loop yet: the first command starts the watch
                links.sentinel.start()

    @property
    def failovers(self) -> int:
        """Master switches seen so far (Sentinel), for the outbox to read its pending entries again."""
        return self._links.sentinel.switches if self._links.sentinel is not None else 0

    @property
    def client(self) -> aioredis.Redis | RedisCluster:
        """The shared client, for the webhook outbox's stream commands (closed by `close`)."""
        return self._client

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (RedisError, RedisClusterException, RespError, OSError) as exc:  # TimeoutError: an OSError
            raise StoreError(f"redis {self.address}: {exc or type(exc).__name__}") from exc

    async def get(self, key: str) -> str | None:
        with self._errors():
            try:
                return cast("str | None", await self._fast.call("GET", key))
            except ConnectionError:  # the server went away (a restart): a read is safe to send again
                return cast("str | None", await self._fast.call("GET", key))

    async def set(self, key: str, value: str, ttl: float | None = None) -> None:
        with self._errors():
            await self._client.set(key, value, px=_ms(ttl) if ttl is not None and ttl > 0 else None)

    async def set_nx(self, key: str, value: str, ttl_ms: int) -> bool:
        px = max(1, int(ttl_ms)) if ttl_ms > 0 else None
        command = ("SET", key, value, "NX") if px is None else ("SET", key, value, "NX", "PX", px)
        with self._errors():
            return await self._fast.call(*command) is not None

    async def lease(self, key: str, owner: str, ttl_ms: int) -> bool:
        with self._errors():
            return bool(await self._fast.evalsha(LEASE, _LEASE_SHA, [key], [owner, max(1, int(ttl_ms))]))

    async def delete(self, key: str) -> bool:
        with self._errors():
            return bool(await self._client.delete(key))

    async def release(self, key: str, value: str) -> bool:
        with self._errors():
            return bool(await self._fast.evalsha(RELEASE, _RELEASE_SHA, [key], [value]))

    async def keys(self, prefix: str) -> list[str]:
        pattern = prefix.translate(_GLOB_ESCAPES) + "*"
        with self._errors():
            return sorted([key async for key in self._client.scan_iter(match=pattern, count=1000)])

    async def incr(self, key: str, ttl: float | None = None) -> int:
        ttl_ms = _ms(ttl) if ttl is not None and ttl > 0 else 0
        with self._errors():
            return int(await self._fast.evalsha(INCR_EXPIRE, _INCR_SHA, [key], [ttl_ms]))

    async def incr_window(self, key: str, period: float) -> tuple[int, float]:
        period_ms = _ms(period) if period > 0 else 0
        with self._errors():
            count, reset_ms = await self._fast.evalsha(INCR_WINDOW, _WINDOW_SHA, [key], [period_ms])
        return int(count), int(reset_ms) / 1000

    async def hit_and_count(
        self, window: str, limit: int, expiry: int, counter: str, period: float
    ) -> tuple[bool, int, float]:
        # The window key as limits' RedisStorage names it, so its stats and counts see these entries.
        keys = [f"{RedisStorage.PREFIX}:{window}", counter]
        if self._links.clustered and key_slot(keys[0].encode()) != key_slot(keys[1].encode()):
            # Names the Limiter could not tag into one slot: the same two steps, one after the other.
            with self._errors():
                if not await self._links.limits.acquire_entry(window, limit, expiry):
                    return False, 0, 0.0
            count, reset = await self.incr_window(counter, period)
            return True, count, reset
        args = [time.time(), limit, expiry, _ms(period) if period > 0 else 0]
        with self._errors():
            admitted, count, reset_ms = await self._fast.evalsha(HIT_AND_COUNT, _HIT_SHA, keys, args)
        return bool(admitted), int(count), int(reset_ms) / 1000

    def pubsub(self) -> PubSub:
        return self  # one Redis carries the messages of every gateway on it

    async def publish(self, channel: str, message: str) -> None:
        with self._errors():
            await self._client.publish(channel, message)

    async def listen(
        self, channel: str, on_message: Callable[[str], None], on_state: Callable[[bool], None]
    ) -> None:
        """Deliver `channel`'s messages until cancelled. `on_state(True)` once subscribed, `(False)` when
        the subscription is lost (messages may be missed until the next True); it reconnects by itself."""
        delay = 0.1
        while True:
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)
            gap = _Gap(on_state)
            try:
                await pubsub.subscribe(channel)
                if pubsub.connection is not None:
                    pubsub.connection.register_connect_callback(gap.reconnected)
                on_state(True)
                delay = 0.1
                while True:
                    # A bounded wait, so an idle subscription never trips the socket timeout.
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        on_message(message["data"])
                    if pubsub.connection is not None and not self._links.is_current(pubsub.connection):
                        raise ConnectionError("subscribed to a master that has been replaced")
            except (RedisError, OSError) as exc:
                on_state(False)
                log.warning("redis %s: subscription to %s lost (%s); retrying", self.address, channel, exc)
            finally:
                if pubsub.connection is not None:
                    pubsub.connection.deregister_connect_callback(gap.reconnected)
                # Typed through a variable: redis-py before 8 leaves aclose untyped (a call to it trips
                # strict mypy), later ones type it (an ignore there would be unused); this is clean on both.
                aclose: Callable[[], Awaitable[None]] = pubsub.aclose
                await aclose()
            await asyncio.sleep(delay)  # backoff between reconnects, not a wait for a result
            delay = min(delay * 2, 5.0)

    def rate_limit_storage(self) -> Any:
        return self._links.limits

    async def ping(self) -> bool:
        try:
            with self._errors():
                return bool(await self._client.ping())
        except StoreError:
            return False

    async def close(self) -> None:
        with self._errors():
            await self._links.close()


class _Gap:
    """redis-py may reconnect a subscription by itself (its one retry) and subscribe again: messages sent
    in between were missed all the same, so the listener is told the subscription dropped and is back."""

    def __init__(self, on_state: Callable[[bool], None]) -> None:
        self._on_state = on_state

    def reconnected(self, _connection: object) -> None:  # a method: redis-py keeps a weak reference
        self._on_state(False)
        self._on_state(True)


def _ms(seconds: float) -> int:
    """Seconds to Redis milliseconds; never 0, which Redis rejects (and which would mean 'no TTL')."""
    return max(1, round(seconds * 1000))
