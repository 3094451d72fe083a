"""Logging helpers: the only place loggers are made and API keys are redacted.

`get_logger(room)` gives a stdlib logger under "gateway.<room>"; `redact_key` hides a raw key as Tyk
does; `Throttle` keeps a repeated warning (a full queue, a down webhook) to one line per interval, and
can say how many it held back. It decides whether to log, never what a line says. `setup` configures
the command line's root handler: text, or one JSON object a line (`JsonFormatter`, tyk.conf `log_format`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

# What every LogRecord has: anything else on a record came from `extra=` and is a field of its JSON line.
# uvicorn adds `color_message` (its message with terminal colours) to its own records: not a field.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}


def get_logger(room: str) -> logging.Logger:
    return logging.getLogger(f"gateway.{room}")


def redact_key(key: str) -> str:
    """Tyk's obfuscation: `****` plus the last four characters, or `--` for four characters or fewer."""
    return "****" + key[-4:] if len(key) > 4 else "--"


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """What a log call passed in `extra=` (api_id, event, handler, target, request_id...)."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRS and not k.startswith("_")}


class TextFormatter(logging.Formatter):
    """The text line, with the record's `extra=` fields after it as `name=value`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)  # the traceback, if any, follows on the next lines
        return line + "".join(f" {k}={v}" for k, v in fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, the record's `extra=` fields
    (api_id, event, handler, target, request_id...), and the traceback as `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in fields(record).items():
            out.setdefault(name, value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup(level: str = "INFO", fmt: str = "") -> None:
    """Configure the root handler once, for the command line (library users keep their own); `fmt`
    "json" writes JSON lines. uvicorn's loggers (not configured by it: log_config=None) follow the root."""
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=TEXT_FORMAT)
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
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
