"""The embedded store's moving windows: `limits`' in-memory storage with its moving-window calls
replaced by one deque of timestamps per key, oldest first.

limits keeps a list newest-first and inserts at its head, which costs time in proportion to the
requests in the window (thousands for a key allowed thousands a second); here a hit appends and the
expired entries fall off the front. The answers are limits' own: a hit is refused when the window
already holds `limit - amount + 1` entries, and nothing is recorded then. An admitted hit is handed to
`journal` (the embedded store's, so windows survive a restart) before it counts; `replay` and
`records` are the two ends of that record. It keeps no other state and does no I/O itself.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from limits.aio.storage import MemoryStorage

SWEEP_EVERY = 10_000  # hits between sweeps of keys whose windows have emptied


class WindowStorage(MemoryStorage):
    def __init__(self, journal: Callable[[list[Any]], None] | None = None) -> None:
        super().__init__()
        self._windows: dict[str, tuple[deque[float], int]] = {}  # key -> (timestamps, expiry)
        self._until_sweep = SWEEP_EVERY
        self._journal = journal

    async def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False
        now = time.time()
        found = self._windows.get(key)
        if found is None:
            window: deque[float] = deque()
            self._windows[key] = (window, expiry)
        else:
            window = found[0]
            _trim(window, now - expiry)
        if len(window) + amount > limit:
            return False
        stamps = [now] * amount
        if self._journal is not None:  # first: a hit that cannot be journalled does not count
            self._journal(["win", key, expiry, stamps])
        window.extend(stamps)
        self._until_sweep -= 1
        if self._until_sweep <= 0:
            self._sweep(now)
        return True

    async def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(the oldest entry still in the window, how many are), as limits answers it."""
        now = time.time()
        found = self._windows.get(key)
        if found is None:
            return now, 0
        window = found[0]
        _trim(window, now - expiry)
        return (window[0], len(window)) if window else (now, 0)

    def replay(self, fields: list[Any]) -> bool:
        """Add a journal record's hits to their window; False when `fields` is not a window's record."""
        match fields:
            case ["win", str(key), int(expiry), list(stamps)] if all(type(t) is float for t in stamps):
                found = self._windows.get(key)
                if found is None:
                    self._windows[key] = (deque(stamps), expiry)
                else:
                    found[0].extend(stamps)
                return True
        return False

    def records(self) -> Iterator[list[Any]]:
        """One record per window that still holds hits: what a compacted journal keeps of them."""
        now = time.time()
        for key, (window, expiry) in self._windows.items():
            _trim(window, now - expiry)
            if window:
                yield ["win", key, expiry, list(window)]

    @property
    def count(self) -> int:
        return len(self._windows)

    def _sweep(self, now: float) -> None:
        self._until_sweep = SWEEP_EVERY
        for key, (window, expiry) in list(self._windows.items()):
            if not window or window[-1] < now - expiry:
                del self._windows[key]


def _trim(window: deque[float], start: float) -> None:
    while window and window[0] < start:
        window.popleft()
