"""Outboxes on each durable backend: the embedded store's file and the Redis Stream on the suite's
redis-server. `outboxes` opens them (again, as a restarted gateway would) and closes them after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.delivery.model import Delivery
from gateway.delivery.outbox_file import FileOutbox
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.record import RecordCodec

SECRET = "outbox-test-secret"


def delivery(n: int = 0, **changes: Any) -> Delivery:
    fields: dict[str, Any] = {
        "api_id": "api1",
        "handler": "hook",
        "event": "QuotaExceeded",
        "method": "POST",
        "url": "http://127.0.0.1:9/hook",
        "body": f'{{"n": {n}}}'.encode(),
        "headers": (("Content-Type", "application/json"),),
        "accepted": 1700000000.0 + n,
    }
    fields.update(changes)
    return Delivery(**fields)


class Outboxes:
    """Opens outboxes of one backend over the same durable state; closes them all at the end."""

    def __init__(self, kind: str, tmp_path: Path, redis_url: str = "") -> None:
        self.kind = kind
        self.folder = tmp_path / "data"
        self._redis_url = redis_url
        self._opened: list[Any] = []
        self._clients: list[aioredis.Redis] = []

    def open(self, consumer: str = "gw-a", claim_idle: float = 600.0, secret: str = SECRET) -> Any:
        codec = RecordCodec(secret)
        if self.kind == "file":
            outbox: Any = FileOutbox(self.folder, codec)
        else:
            client = aioredis.Redis.from_url(self._redis_url, decode_responses=True)
            self._clients.append(client)
            outbox = RedisOutbox(client, codec, consumer, claim_idle=claim_idle)
        self._opened.append(outbox)
        return outbox

    async def close_all(self) -> None:
        for outbox in self._opened:
            await outbox.close()
        for client in self._clients:
            await client.aclose()


@pytest.fixture(params=["file", "redis"])
async def outboxes(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Outboxes]:
    url = request.getfixturevalue("redis_flush").url if request.param == "redis" else ""
    kit = Outboxes(request.param, tmp_path, url)
    try:
        yield kit
    finally:
        await kit.close_all()
