"""The certificate expiry monitor (Tyk's certcheck batcher): decides whether a certificate in use fires
CertificateExpiringSoon or CertificateExpired, with Tyk's check and event cooldowns in the store.

`note` is what the request path calls: synchronous, and free while the certificate's check cooldown
holds in memory. The checks run on a background task. Beyond Tyk, every configured certificate is also
scanned when APIs load and every check-cooldown interval, so an unused certificate is reported too.
It decides and fires; delivering is the bus's business.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.certs.store import Certificate
from gateway.config.model import CertificateExpiryMonitorConfig
from gateway.errors import StoreError
from gateway.events.catalog import CertExpiredMeta, CertExpiringMeta, Event, EventMessage
from gateway.log import Throttle, get_logger
from gateway.store.base import Store
from gateway.tasks import cancel_and_wait

log = get_logger("cert_monitor")

CHECK_KEY = "cert-cooldown:cert_check_cooldown:"
EVENT_KEY = "cert-cooldown:cert_expiry_event_cooldown:"
DAY = 86400


@dataclass(frozen=True, slots=True)
class CertUse:
    """One certificate as one API uses it; `role` is Tyk's cert_role: client, upstream (or server)."""

    cert: Certificate
    api_id: str
    org_id: str
    role: str


def expiring_message(name: str, hours: int) -> str:
    days, rest = divmod(hours, 24)
    if days > 0:
        return f"Certificate {name} is expiring in {days} days" + (f" and {rest} hours" if rest else "")
    return f"Certificate {name} is expiring in {rest} hours"


def expired_message(name: str, hours: int) -> str:
    days, rest = divmod(hours, 24)
    if days > 0:
        return f"Certificate {name} is expired since {days} days" + (f" and {rest} hours" if rest else "")
    return f"Certificate {name} is expired since {rest} hours"


class CertExpiryMonitor:
    def __init__(
        self,
        store: Store,
        fire: Callable[[EventMessage], object],
        config: CertificateExpiryMonitorConfig,
        *,
        scan: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._fire = fire
        self._config = config
        self._scan = scan
        self._clock = clock
        self._checked: dict[str, float] = {}  # cert id -> end of the check cooldown, in this process
        self._queue: dict[tuple[str, str, str], CertUse] = {}  # duplicates collapse, as in Tyk's batch
        self._uses: tuple[CertUse, ...] = ()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._errors = Throttle(30.0)
        self._idle = asyncio.Event()
        self._idle.set()

    def note(self, use: CertUse) -> None:
        """Queue a certificate for checking; nothing to do while its check cooldown holds."""
        until = self._checked.get(use.cert.id)
        if until is not None and until > self._clock():
            return
        self._queue.setdefault((use.cert.id, use.api_id, use.role), use)
        self._idle.clear()
        self._wake.set()

    def set_uses(self, uses: Iterable[CertUse]) -> None:
        """Every certificate the loaded configuration names; scanned now and on every interval."""
        self._uses = tuple(uses)
        if self._scan:
            for use in self._uses:
                self.note(use)

    async def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._run()))
        if self._scan:
            self._tasks.append(asyncio.create_task(self._rescan()))

    async def stop(self) -> None:
        # A task that died of its own error was logged then; stopping must go on to release the rest.
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()

    async def idle(self) -> None:
        """Wait until every noted certificate has been checked (tests)."""
        await self._idle.wait()

    async def _rescan(self) -> None:
        while True:
            # A second past the cooldown, so that the rescan never lands just before it ends.
            await asyncio.sleep(self._config.check_cooldown_seconds + 1)
            for use in self._uses:
                self.note(use)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = list(self._queue.values()), {}
            for use in batch:
                try:
                    await self.check(use)
                except StoreError as exc:
                    if self._errors.allow():
                        log.warning("certificate expiry check skipped: %s", exc)
                except Exception:  # one bad certificate must not end the monitor for all the others
                    log.exception("certificate expiry check failed for %s", use.cert.id)
            if not self._queue:
                self._idle.set()

    async def check(self, use: CertUse) -> str | None:
        """Tyk's per-certificate check; the event fired, or None. Both cooldowns are atomic SET NX, so
        across gateways sharing a store exactly one checks, and exactly one fires, per cooldown."""
        cfg = self._config
        now = self._clock()
        cert = use.cert
        self._checked[cert.id] = now + cfg.check_cooldown_seconds
        if not await self._store.set_nx(CHECK_KEY + cert.id, "1", cfg.check_cooldown_seconds * 1000):
            return None
        remaining = cert.not_after.timestamp() - now
        if remaining > cfg.warning_threshold_days * DAY:
            return None
        if not await self._store.set_nx(EVENT_KEY + cert.id, "1", cfg.event_cooldown_seconds * 1000):
            return None
        hours = int(remaining / 3600)  # Go's int(d.Hours()): truncated toward zero
        if remaining <= 0:
            event = Event.CertificateExpired
            expired = CertExpiredMeta(
                expired_message(cert.common_name, -hours),
                cert_id=cert.id,
                cert_name=cert.common_name,
                expired_at=cert.not_after,
                days_since_expiry=-hours // 24,
                api_id=use.api_id,
                cert_role=use.role,
            )
            self._fire(EventMessage(event, expired, use.api_id, use.org_id))
        else:
            event = Event.CertificateExpiringSoon
            expiring = CertExpiringMeta(
                expiring_message(cert.common_name, hours),
                cert_id=cert.id,
                cert_name=cert.common_name,
                expires_at=cert.not_after,
                days_remaining=hours // 24,
                api_id=use.api_id,
                cert_role=use.role,
            )
            self._fire(EventMessage(event, expiring, use.api_id, use.org_id))
        log.info("%s: certificate %s (%s) for api %r", event, cert.common_name, cert.id[:8], use.api_id)
        return event
