"""The embedded store's moving windows answer as `limits`' own in-memory storage does: the same random
sequence of hits and window reads, on a shared fake clock, gets the same answers from both (an empty
window excepted: it starts now)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import limits.aio.storage.memory as limits_memory
import pytest

import gateway.store.window as window_module
from gateway.store.window import WindowStorage


@pytest.mark.parametrize("seed", range(5))
async def test_same_answers_as_limits_memory_storage(monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    now = [1_700_000_000.0]
    clock = SimpleNamespace(time=lambda: now[0])
    monkeypatch.setattr(limits_memory, "time", clock)
    monkeypatch.setattr(window_module, "time", clock)
    ours, theirs = WindowStorage(), limits_memory.MemoryStorage()
    rng = random.Random(seed)
    for step in range(2000):
        key = rng.choice(["a", "b"])
        limit, expiry = (3, 2) if key == "a" else (5, 1)
        now[0] += rng.choice([0.0, 0.0137, 0.2113, 0.7071])  # never exactly on a window edge
        if rng.random() < 0.8:
            amount = rng.choice([1, 1, 1, 2])
            got = await ours.acquire_entry(key, limit, expiry, amount)
            want = await theirs.acquire_entry(key, limit, expiry, amount)
        else:
            got = await ours.get_moving_window(key, limit, expiry)
            want = await theirs.get_moving_window(key, limit, expiry)
            # An empty window starts now here; limits names a long-expired entry's time, which would
            # put a rate_limits reset header in the past.
            if want[1] == 0:
                want = (now[0], 0)
        assert got == want, (seed, step)
    for storage in (ours, theirs):
        timer = getattr(storage, "timer", None)
        if timer is not None:
            timer.cancel()


async def test_emptied_windows_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(window_module, "SWEEP_EVERY", 3)
    storage = WindowStorage()
    assert await storage.acquire_entry("old", 1, 1)
    now = window_module.time.time()
    monkeypatch.setattr(window_module, "time", SimpleNamespace(time=lambda: now + 5))
    for key in ("x", "y", "z"):
        assert await storage.acquire_entry(key, 1, 60)
    assert sorted(storage._windows) == ["x", "y", "z"]
