"""Logging helpers: the only place loggers are made and API keys are redacted.

`get_logger(room)` gives a stdlib logger under "gateway.<room>"; `redact_key` hides a raw key as Tyk
does; `Throttle` keeps a repeated warning (a full queue, a down webhook) to one line per interval, and
can say how many it held back. It decides whether to log, never what a line says.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


def get_logger(room: str) -> logging.Logger:
    return logging.getLogger(f"gateway.{room}")


def redact_key(key: str) -> str:
    """Tyk's obfuscation: `****` plus the last four characters, or `--` for four characters or fewer."""
    return "****" + key[-4:] if len(key) > 4 else "--"


def setup(level: str = "INFO") -> None:
    """Configure the root handler once, for the command line (library users keep their own)."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every webhook request at INFO: delivery outcomes are the bus's to report.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


class Throttle:
    """Allow an action at most once per `interval` seconds per key (log once per outage, not per request)."""

    __slots__ = ("_clock", "_held", "_interval", "_last", "suppressed")

    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}  # key -> times held back since its last allowed line
        self.suppressed = 0

    def allow(self, key: str = "") -> bool:
        return self.allow_count(key) is not None

    def allow_count(self, key: str = "") -> int | None:
        """As `allow`, but say how many times `key` was held back since its last line (None: hold back
        this one), so that the line can report what it stands for."""
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self.suppressed += 1
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._held.pop(key, 0)
