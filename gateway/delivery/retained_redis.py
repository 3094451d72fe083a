"""The Redis store's retained log, shared by every gateway on the Redis: a Stream per log, capped by
MAXLEN at each add and trimmed by MINID (its ids are add times) for retention, and, for keyed records, a
small key per record naming its entry, expiring with the retention.

It owns those keys (one hash tag per log, so a Redis Cluster keeps them in one slot) and their trimming;
it uses the store's client (the RedisStore closes it) and turns every redis-py error into a StoreError.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis.exceptions import RedisClusterException, RedisError

from gateway.delivery.retained import Entry, Item, Record
from gateway.errors import StoreError

PREFIX = "tyk-gateway-retained"
T = TypeVar("T")


class RedisBackend:
    def __init__(
        self,
        client: Any,  # redis.asyncio Redis or RedisCluster: the store's own connection
        name: str,
        *,
        retention: float,
        limit: int,
        address: str = "redis",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._tag = f"{{{PREFIX}:{name}}}"  # one slot for the stream and its key index
        self.stream = f"{self._tag}:log"
        self._retention, self._limit, self._clock = retention, limit, clock
        self._address = address

    def _index(self, key: str) -> str:
        return f"{self._tag}:key:{key}"

    def _oldest_id(self) -> str:
        return str(max(0, int((self._clock() - self._retention) * 1000)))

    async def write(self, batch: list[Item]) -> None:
        async def add() -> list[Any]:
            async with self._client.pipeline(transaction=False) as pipe:
                for when, key, record in batch:
                    fields = {"t": repr(when), "k": key or "", "r": json.dumps(record, separators=(",", ":"))}
                    pipe.xadd(self.stream, fields, maxlen=self._limit, approximate=False)
                pipe.xtrim(self.stream, minid=self._oldest_id(), approximate=True)
                return list(await pipe.execute())

        entries = await self._call(add)
        keyed = [(key, entry) for (_, key, _), entry in zip(batch, entries, strict=False) if key]
        if not keyed:
            return
        ttl = max(1, math.ceil(self._retention))

        async def index() -> None:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, entry in keyed:
                    pipe.set(self._index(key), _text(entry), ex=ttl)
                await pipe.execute()

        await self._call(index)

    async def newest(self, before: str | None, count: int) -> list[Entry]:
        top = "+" if before is None else f"({before}"
        found = await self._call(
            lambda: self._client.xrevrange(self.stream, max=top, min=self._oldest_id(), count=count)
        )
        return [(_text(entry), _record(fields)) for entry, fields in found]

    async def get(self, key: str) -> Record | None:
        entry = await self._call(lambda: self._client.get(self._index(key)))
        if entry is None:
            return None
        found = await self._call(lambda: self._client.xrange(self.stream, _text(entry), _text(entry)))
        if not found or int(_text(found[0][0]).split("-")[0]) < int(self._oldest_id()):
            return None  # trimmed by the cap, or past the retention
        return _record(found[0][1])

    async def close(self) -> None:
        return None  # the client belongs to the RedisStore

    async def _call(self, command: Callable[[], Awaitable[T]]) -> T:
        try:
            return await command()
        except (RedisError, RedisClusterException, OSError) as exc:
            raise StoreError(
                f"redis {self._address}: retained {self.stream}: {exc or type(exc).__name__}"
            ) from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _record(fields: Any) -> Record:
    raw = {_text(k): v for k, v in (fields or {}).items()}
    record = json.loads(_text(raw.get("r", "{}")))
    return record if isinstance(record, dict) else {}
