"""The quota trigger monitor (TriggerExceeded): after a request is counted against a key or org quota,
fire once for each usage threshold crossed, once per threshold per quota period per key.

Thresholds are the session's `monitor.trigger_limits` plus tyk.conf `monitor.global_trigger_limit` (a
number, or a list). "Once" holds across workers and gateways: a `SET NX` reservation that expires with
the quota period; a local memo spares the store call once a threshold is taken. It never rejects a
request and never awaits delivery; the chain calls it through `Services.trigger_monitor`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from gateway.config.model import MonitorConfig
from gateway.errors import ConfigError, StoreError
from gateway.events.catalog import Event, EventMeta, TriggerMeta
from gateway.log import Throttle, get_logger
from gateway.store.base import Store

log = get_logger("monitor")

MESSAGE = "Quota trigger reached"
# A quota that never renews has no period to end with: its thresholds stay taken for a year.
NEVER_RENEWS = 365 * 86_400.0
MEMO_LIMIT = 100_000  # reservations remembered locally before the memo is emptied
# How long a taken reservation is trusted without asking the store: after a quota reset on another
# gateway, a threshold crossed again fires here at most this late.
MEMO_TTL = 60.0

Fire = Callable[[str, EventMeta], None]


def global_limits(value: Any, where: str = "tyk.conf") -> tuple[float, ...]:
    """`global_trigger_limit`: 0 (none), a percentage, or (not in Tyk) a list of percentages."""
    values = value if isinstance(value, list) else [value]
    for i, v in enumerate(values):
        ok = not isinstance(v, bool) and isinstance(v, int | float) and 0 <= v <= 100
        if not ok or (isinstance(value, list) and v == 0):
            at = f"[{i}]" if isinstance(value, list) else ""
            raise ConfigError(
                where, f'key "monitor.global_trigger_limit{at}": expected a percentage 0-100, got {v!r}'
            )
    return tuple(float(v) for v in values if v)


class TriggerMonitor:
    def __init__(self, config: MonitorConfig, store: Store, where: str = "tyk.conf") -> None:
        on = config.enable_trigger_monitors
        self.users = on and config.monitor_user_keys
        self.orgs = on and config.monitor_org_keys
        self.global_limits = global_limits(config.global_trigger_limit, where)
        self._store = store
        self._memo: dict[str, float] = {}  # reservation key -> when it expires (Services' clock)
        self._error_log = Throttle(30.0)

    async def observe(
        self,
        fire: Fire,
        now: float,
        *,
        counter: str,
        used: int,
        quota_max: int,
        renews: float,
        limits: tuple[float, ...],
        org_id: str,
        key: str,
    ) -> None:
        """A request was counted: `used` of `quota_max` on `counter`, which renews at `renews` (Unix
        seconds; 0 never)."""
        usage = used * 100 / quota_max
        crossed = sorted(t for t in {*limits, *self.global_limits} if t <= usage)
        if not crossed:
            return
        ttl = max(0.001, renews - now) if renews else NEVER_RENEWS
        for threshold in crossed:
            name = _reservation(counter, threshold)
            if self._memo.get(name, 0.0) > now:
                continue
            try:
                fresh = await self._store.set_nx(name, "1", max(1, int(ttl * 1000)))
            except StoreError as exc:
                if self._error_log.allow():
                    log.warning("quota trigger monitor skipped, store unavailable: %s", exc)
                return
            if len(self._memo) >= MEMO_LIMIT:
                self._memo.clear()
            self._memo[name] = now + min(ttl, MEMO_TTL)
            if fresh:
                meta = TriggerMeta(
                    MESSAGE,
                    org_id=org_id,
                    key=key,
                    trigger_limit=int(threshold),
                    usage_percentage=int(usage),
                )
                fire(Event.TriggerExceeded, meta)

    async def forget(self, counter: str, limits: tuple[float, ...]) -> None:
        """A quota counter was reset: its thresholds may fire again in the period that starts now."""
        for threshold in {*limits, *self.global_limits}:
            name = _reservation(counter, threshold)
            self._memo.pop(name, None)
            await self._store.delete(name)


def _reservation(counter: str, threshold: float) -> str:
    # The counter's name may hold a raw key (hash_keys off): the reservation holds only its hash.
    return f"trigger-{hashlib.sha256(counter.encode()).hexdigest()[:32]}-{threshold:g}"
