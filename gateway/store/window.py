"""The embedded store's moving windows: `limits`' in-memory storage with its moving-window calls
replaced by one deque of timestamps per key, oldest first.

limits keeps a list newest-first and inserts at its head, which costs time in proportion to the
requests in the window (thousands for a key allowed thousands a second); here a hit appends and the
expired entries fall off the front. The answers are limits' own: a hit is refused when the window
already holds `limit - amount + 1` entries, and nothing is recorded then. It keeps no other state.
"""

from __future__ import annotations

import time
from collections import deque

from limits.aio.storage import MemoryStorage

SWEEP_EVERY = 10_000  # hits between sweeps of keys whose windows have emptied


class WindowStorage(MemoryStorage):
    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[deque[float], int]] = {}  # key -> (timestamps, expiry)
        self._until_sweep = SWEEP_EVERY

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
        window.extend([now] * amount)
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

    def _sweep(self, now: float) -> None:
        self._until_sweep = SWEEP_EVERY
        for key, (window, expiry) in list(self._windows.items()):
            if not window or window[-1] < now - expiry:
                del self._windows[key]


def _trim(window: deque[float], start: float) -> None:
    while window and window[0] < start:
        window.popleft()
