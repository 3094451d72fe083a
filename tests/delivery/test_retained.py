"""The retained log on each backend (memory, the embedded store's file, a Redis Stream): records read newest
first and paged by position, by key (the newest under it), trimmed by the cap and by the retention; on
files it survives a reopen, a torn last line is skipped, and trimmed lines are rewritten away. The
buffer: appends never wait, a full one drops and counts, a failed write keeps its batch."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from gateway.delivery.retained import Backend, Item, MemoryBackend, RetainedLog, valid_position
from gateway.delivery.retained_file import FileBackend
from gateway.delivery.retained_redis import RedisBackend
from gateway.errors import StoreError


class Clock:
    """Real time, moved forward by the test: Redis stream ids are real add times."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


class Kit:
    def __init__(self, kind: str, folder: Path, url: str) -> None:
        self.kind, self.folder, self.url = kind, folder, url
        self.clock = Clock()
        self._opened: list[Backend] = []
        self._clients: list[aioredis.Redis] = []

    def open(self, retention: float = 60.0, limit: int = 100) -> Backend:
        backend: Backend
        if self.kind == "memory":
            backend = MemoryBackend(retention, limit, self.clock)
        elif self.kind == "file":
            backend = FileBackend(self.folder, "log", retention=retention, limit=limit, clock=self.clock)
        else:
            client = aioredis.Redis.from_url(self.url, decode_responses=True)
            self._clients.append(client)
            backend = RedisBackend(client, "log", retention=retention, limit=limit, clock=self.clock)
        self._opened.append(backend)
        return backend

    async def close(self, backend: Backend) -> None:
        self._opened.remove(backend)
        await backend.close()

    async def close_all(self) -> None:
        for backend in self._opened:
            await backend.close()
        for client in self._clients:
            await client.aclose()


@pytest.fixture(params=["memory", "file", "redis"])
async def kit(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Kit]:
    url = request.getfixturevalue("redis_flush").url if request.param == "redis" else ""
    opened = Kit(request.param, tmp_path / "data", url)
    try:
        yield opened
    finally:
        await opened.close_all()


def items(*numbers: int, key: bool = False) -> list[Item]:
    return [(time.time(), f"k{n % 3}" if key else None, {"n": n}) for n in numbers]


async def test_newest_first_paged_by_position_and_read_by_key(kit: Kit) -> None:
    log = kit.open()
    await log.write(items(*range(5), key=True))
    first = await log.newest(None, 2)
    assert [r["n"] for _, r in first] == [4, 3]
    assert all(valid_position(p) for p, _ in first)
    rest = await log.newest(first[-1][0], 10)
    assert [r["n"] for _, r in rest] == [2, 1, 0]
    assert await log.newest(rest[-1][0], 10) == []
    assert (await log.get("k0")) == {"n": 3} and (await log.get("k2")) == {"n": 2}
    assert await log.get("nobody") is None


async def test_the_cap_keeps_the_newest(kit: Kit) -> None:
    log = kit.open(limit=3)
    for n in range(7):
        await log.write(items(n, key=True))
    assert [r["n"] for _, r in await log.newest(None, 100)] == [6, 5, 4]
    assert await log.get("k0") == {"n": 6} and await log.get("k1") == {"n": 4}
    await log.write(items(7, 8, 9))
    assert await log.get("k1") is None  # its record went past the cap


async def test_records_past_the_retention_are_gone(kit: Kit) -> None:
    log = kit.open(retention=60.0)
    await log.write(items(1, 2, key=True))
    kit.clock.ahead = 61.0
    assert await log.newest(None, 10) == []
    assert await log.get("k1") is None
    if kit.kind == "redis":  # its ids are the server's add times: the moved clock ages them at once
        return
    await log.write([(kit.clock(), None, {"n": 3})])
    assert [r["n"] for _, r in await log.newest(None, 10)] == [3]


async def test_a_file_log_survives_a_reopen_and_a_torn_line(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    log = FileBackend(folder, "log", retention=60.0, limit=100)
    await log.write(items(1, 2, key=True))
    await log.close()
    file = folder / "log.jsonl"
    file.write_bytes(file.read_bytes() + b'{"p": 3, "t"')  # killed mid-write
    again = FileBackend(folder, "log", retention=60.0, limit=100)
    try:
        await again.write(items(4))
        assert [r["n"] for _, r in await again.newest(None, 10)] == [4, 2, 1]
        assert await again.get("k1") == {"n": 1}
        with pytest.raises(StoreError, match="already open"):
            FileBackend(folder, "log", retention=60.0, limit=100)
    finally:
        await again.close()


async def test_a_file_log_rewrites_what_was_trimmed(tmp_path: Path) -> None:
    log = FileBackend(tmp_path, "log", retention=60.0, limit=10)
    try:
        for n in range(0, 1_500, 100):
            await log.write(items(*range(n, n + 100), key=True))
        lines = (tmp_path / "log.jsonl").read_text().splitlines()
        assert len(lines) < 1_100  # rewritten past 1,000 trimmed lines
        assert [r["n"] for _, r in await log.newest(None, 3)] == [1499, 1498, 1497]
        assert await log.get("k0") == {"n": 1497}
    finally:
        await log.close()


class Down(MemoryBackend):
    def __init__(self) -> None:
        super().__init__(60.0, 100)
        self.up = False

    async def write(self, batch: list[Item]) -> None:
        if not self.up:
            raise StoreError("down")
        await super().write(batch)


async def test_the_buffer_keeps_a_failed_batch_and_drops_past_its_hold() -> None:
    backend = Down()
    log = RetainedLog("test", backend, hold=3)
    for n in range(5):
        log.append({"n": n}, key=f"k{n}")
    assert log.dropped == 2
    assert await log.get("k1") == {"n": 1}  # still waiting: read from the buffer
    with pytest.raises(StoreError):
        await log.flush()
    assert await log.newest(None, 10) == []  # a reader flushes quietly
    backend.up = True
    assert log.amend(lambda item: item["n"] == 2, lambda item: {**item, "done": True})
    await log.flush()
    found: list[Any] = [r for _, r in await log.newest(None, 10)]
    assert found == [{"n": 2, "done": True}, {"n": 1}, {"n": 0}]
