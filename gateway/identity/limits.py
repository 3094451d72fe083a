"""A key's limits: `Limit` (rate, quota, throttle figures) and its `Smoothing` block, and `Reader`,
the typed JSON field access every session part is parsed with.

Pure parsing: a wrong type is a ConfigError naming the JSON path and the value. It never touches the
store; `sessions.py` builds sessions from these parts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.errors import ConfigError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


class Reader:
    """Typed field access on one JSON object; a wrong type names the JSON path and the value.

    JSON null reads as the zero value, as Go's decoder leaves the field untouched.
    """

    def __init__(self, where: str, path: str, obj: Mapping[str, Any]) -> None:
        self.where, self.path, self.obj = where, path, obj

    def fail(self, name: str, expected: str, value: Any) -> ConfigError:
        shown = json.dumps(value, default=repr)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ConfigError(self.where, f"{self.path}.{name}: expected {expected}, got {shown}")

    def number(self, name: str) -> float:
        value = self.obj.get(name)
        if value is None:
            return 0.0
        # Python's JSON reads 1e309 as infinity; Go's float64 refuses it, and so do we.
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.fail(name, "a finite number", value)
        return float(value)

    def integer(self, name: str) -> int:
        value = self.obj.get(name)
        if value is None:
            return 0
        # Go refuses 1.5 (and 1.0) for an int64 field, and anything outside int64: so do we.
        if isinstance(value, bool) or not isinstance(value, int) or not INT64_MIN <= value <= INT64_MAX:
            raise self.fail(name, "an integer (64-bit)", value)
        return value

    def flag(self, name: str) -> bool:
        value = self.obj.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(name, "a boolean", value)
        return value

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(name, "a string", value)
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.obj.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, "an object", value)
        return value

    def items(self, name: str) -> list[Any]:
        value = self.obj.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "a list", value)
        return value


@dataclass(frozen=True, slots=True)
class Smoothing:
    """Tyk's rate-limit smoothing block; `valid` (Tyk's Valid) only when enabled and all four are > 0."""

    enabled: bool = False
    threshold: int = 0  # the starting and minimum allowance, requests per `per`
    trigger: float = 0.0  # the fraction of a step that triggers a change
    step: int = 0
    delay: int = 0  # seconds between two changes

    @property
    def valid(self) -> bool:
        return self.enabled and self.threshold > 0 and self.trigger > 0 and self.step > 0 and self.delay > 0

    @classmethod
    def parse(cls, r: Reader) -> Smoothing | None:
        raw = r.mapping("smoothing")
        if not raw:
            return None
        s = Reader(r.where, f"{r.path}.smoothing", raw)
        smoothing = cls(
            enabled=s.flag("enabled"),
            threshold=s.integer("threshold"),
            trigger=s.number("trigger"),
            step=s.integer("step"),
            delay=s.integer("delay"),
        )
        return smoothing if smoothing.valid else None


@dataclass(frozen=True, slots=True)
class Limit:
    """A key's limits for one API: a per-API `access_rights[..].limit` (only present when some figure is
    non-zero, Tyk's IsEmpty) or the session's own fields (`Session.own_limit`)."""

    rate: float = 0.0
    per: float = 0.0
    quota_max: int = 0
    quota_remaining: int = 0
    quota_renews: int = 0
    quota_renewal_rate: int = 0
    throttle_interval: float = 0.0
    throttle_retry_limit: int = 0
    smoothing: Smoothing | None = None  # only a valid block is kept

    @classmethod
    def parse(cls, r: Reader) -> Limit | None:
        limit = cls.read(r)
        return None if limit == cls() else limit

    @classmethod
    def read(cls, r: Reader) -> Limit:
        return cls(
            rate=r.number("rate"),
            per=r.number("per"),
            quota_max=r.integer("quota_max"),
            quota_remaining=r.integer("quota_remaining"),
            quota_renews=r.integer("quota_renews"),
            quota_renewal_rate=r.integer("quota_renewal_rate"),
            throttle_interval=r.number("throttle_interval"),
            throttle_retry_limit=r.integer("throttle_retry_limit"),
            smoothing=Smoothing.parse(r),
        )


def check_smoothing(raw: Mapping[str, Any], where: str) -> None:
    """Refuse (ConfigError naming the field) an enabled smoothing block Tyk would silently ignore.

    Only for sessions being written through the REST API: a stored one loads as Tyk loads it."""
    blocks = [("$.smoothing", raw.get("smoothing"))]
    for api_id, right in (raw.get("access_rights") or {}).items():
        limit = right.get("limit") or {}
        blocks.append((f"$.access_rights.{api_id}.limit.smoothing", limit.get("smoothing")))
    for path, block in blocks:
        if isinstance(block, dict) and block.get("enabled") is True:
            for name in ("threshold", "trigger", "step", "delay"):
                if not (block.get(name) or 0) > 0:  # null counts as absent, as everywhere in a session
                    raise ConfigError(where, f"{path}.{name}: must be > 0 when smoothing is enabled")


def trigger_limits(r: Reader) -> tuple[float, ...]:
    """`monitor.trigger_limits` of a session, or (not in Tyk) of a policy: quota usage percentages."""
    limits = r.items("trigger_limits")
    for i, value in enumerate(limits):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            raise r.fail(f"trigger_limits[{i}]", "a percentage above 0 and at most 100", value)
    return tuple(float(v) for v in limits)
