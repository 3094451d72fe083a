"""The embedded store's moving windows answer as `limits`' own in-memory storage does: the same random
sequence of hits and window reads, on a shared fake clock, gets the same answers from both (an empty
window excepted: it starts now). On the embedded store, windows survive a clean restart and a kill."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import limits.aio.storage.memory as limits_memory
import pytest

import gateway.store.window as window_module
from gateway.store import memory
from gateway.store.limiter import Limiter
from gateway.store.memory import MemoryStore
from gateway.store.window import WindowStorage

ROOT = Path(__file__).resolve().parents[2]


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


# -- on the embedded store, across restarts ----------------------------------------------------------


async def test_a_full_window_stays_full_across_a_restart_and_a_compaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_700_000_000.0]
    monkeypatch.setattr(window_module, "time", SimpleNamespace(time=lambda: now[0]))
    store = MemoryStore(tmp_path)
    limiter = Limiter(store.rate_limit_storage())
    assert [await limiter.hit("k", 2, 60) for _ in range(3)] == [True, True, False]
    assert await limiter.hit("short", 1, 1)
    await store.close()
    now[0] += 30  # "short" has emptied, "k" has not
    store = MemoryStore(tmp_path)  # replayed, then compacted to one line per window still holding hits
    assert await Limiter(store.rate_limit_storage()).hit("k", 2, 60) is False
    records = [json.loads(line)[1:3] for line in (tmp_path / memory.JOURNAL).read_text().splitlines()]
    assert records == [["win", "LIMITER/k/2/60/second"]]
    monkeypatch.setattr(memory, "COMPACT_MIN_LINES", 4)
    for n in range(6):  # enough hits to compact while running
        await store.rate_limit_storage().acquire_entry(f"other-{n}", 1, 60)
    await store.close()
    now[0] += 29.9
    store = MemoryStore(tmp_path)
    assert await Limiter(store.rate_limit_storage()).count("k", 2, 60) == 2
    now[0] += 0.2  # 60 s after the two hits: the window has room again
    assert await Limiter(store.rate_limit_storage()).hit("k", 2, 60) is True
    await store.close()


async def test_a_window_hit_survives_a_kill(tmp_path: Path) -> None:
    script = (
        "import asyncio, os, signal, sys\n"
        "from gateway.store.memory import MemoryStore\n"
        "from gateway.store.limiter import Limiter\n"
        "async def main():\n"
        "    store = MemoryStore(sys.argv[1])\n"
        "    assert await Limiter(store.rate_limit_storage()).hit('k', 1, 60)\n"
        "    await asyncio.sleep(0)  # the end of the loop turn: counter steps are flushed\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, timeout=60)
    assert done.returncode == -9
    store = MemoryStore(tmp_path)
    assert await Limiter(store.rate_limit_storage()).hit("k", 1, 60) is False
    await store.close()
