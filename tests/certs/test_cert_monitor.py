"""The certificate expiry monitor on both stores, with an injected clock: Tyk's messages and metas, the
check and event cooldowns (store keys shared by gateways), and the queue the request path feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.certs.monitor import (
    CHECK_KEY,
    EVENT_KEY,
    CertExpiryMonitor,
    CertUse,
    expired_message,
    expiring_message,
)
from gateway.certs.store import parse_pem
from gateway.config.model import CertificateExpiryMonitorConfig
from gateway.events.catalog import CertExpiredMeta, CertExpiringMeta, Event, EventMessage
from gateway.store.base import Store
from tests.pki import PKI, cert_pem

HOUR = 3600.0


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def use(pki: PKI, name: str, days: float, api: str = "api1", role: str = "client") -> CertUse:
    return CertUse(parse_pem(cert_pem(pki.client(name, days=days, start_days_ago=400))), api, "org", role)


def monitor(store: Store, clock: Clock, fired: list[EventMessage], **cfg: int) -> CertExpiryMonitor:
    config = CertificateExpiryMonitorConfig(**cfg)  # type: ignore[arg-type]
    return CertExpiryMonitor(store, fired.append, config, clock=clock)


@pytest.mark.parametrize(
    ("hours", "expiring", "expired"),
    [
        (122, "is expiring in 5 days and 2 hours", "is expired since 5 days and 2 hours"),
        (120, "is expiring in 5 days", "is expired since 5 days"),
        (7, "is expiring in 7 hours", "is expired since 7 hours"),
    ],
)
def test_tyks_messages(hours: int, expiring: str, expired: str) -> None:
    assert expiring_message("api.example", hours) == f"Certificate api.example {expiring}"
    assert expired_message("api.example", hours) == f"Certificate api.example {expired}"


async def test_expiring_fires_once_per_event_cooldown(pki: PKI, store: Store) -> None:
    clock, fired = Clock(), []  # type: ignore[var-annotated]
    soon = use(pki, "soon", days=5 + 2.5 / 24)
    mon = monitor(store, clock, fired, check_cooldown_seconds=60, event_cooldown_seconds=3600)
    assert await mon.check(soon) == Event.CertificateExpiringSoon
    (msg,) = fired
    meta = msg.meta
    assert isinstance(meta, CertExpiringMeta)
    assert (msg.type, msg.api_id, msg.org_id) == (Event.CertificateExpiringSoon, "api1", "org")
    assert meta.message == "Certificate soon is expiring in 5 days and 2 hours"
    assert (meta.cert_id, meta.cert_name, meta.days_remaining, meta.cert_role) == (
        soon.cert.id,
        "soon",
        5,
        "client",
    )
    assert meta.expires_at == soon.cert.not_after and meta.api_id == "api1"
    assert await store.get(CHECK_KEY + soon.cert.id) and await store.get(EVENT_KEY + soon.cert.id)
    assert await mon.check(soon) is None  # check cooldown
    clock.now += 61
    assert await mon.check(soon) is None  # checked again, but the event cooldown holds
    assert len(fired) == 1


async def test_expired_and_healthy(pki: PKI, store: Store) -> None:
    clock, fired = Clock(), []  # type: ignore[var-annotated]
    mon = monitor(store, clock, fired)
    old = use(pki, "old", days=-(3 + 5.5 / 24), role="upstream")
    assert await mon.check(old) == Event.CertificateExpired
    meta = fired[0].meta
    assert isinstance(meta, CertExpiredMeta)
    assert meta.message == "Certificate old is expired since 3 days and 5 hours"
    assert (meta.days_since_expiry, meta.cert_role, meta.expired_at) == (3, "upstream", old.cert.not_after)
    assert await mon.check(use(pki, "fine", days=365)) is None
    assert len(fired) == 1


async def test_warning_threshold_is_configurable(pki: PKI, store: Store) -> None:
    clock, fired = Clock(), []  # type: ignore[var-annotated]
    mon = monitor(store, clock, fired, warning_threshold_days=3)
    assert await mon.check(use(pki, "five", days=5)) is None
    assert await mon.check(use(pki, "two", days=2)) == Event.CertificateExpiringSoon


async def test_two_monitors_on_one_store_fire_once(pki: PKI, store: Store) -> None:
    clock, fired = Clock(), []  # type: ignore[var-annotated]
    soon = use(pki, "shared", days=4)
    first, second = monitor(store, clock, fired), monitor(store, clock, fired)
    assert [await first.check(soon), await second.check(soon)] == [Event.CertificateExpiringSoon, None]


async def test_note_queues_checks_and_is_free_within_the_cooldown(pki: PKI, store: Store) -> None:
    clock, fired = Clock(), []  # type: ignore[var-annotated]
    mon = monitor(store, clock, fired)
    soon = use(pki, "queued", days=4)
    await mon.start()
    try:
        for _ in range(3):
            mon.note(soon)
        await mon.idle()
        mon.note(soon)  # within the check cooldown: not even queued
        assert not mon._queue
        await mon.idle()
    finally:
        await mon.stop()
    assert [m.type for m in fired] == [Event.CertificateExpiringSoon]


def test_meta_json_uses_tyks_snake_case_and_omits_an_empty_api_id(pki: PKI) -> None:
    soon = use(pki, "json", days=4)
    meta = CertExpiringMeta("m", cert_id=soon.cert.id, cert_name="json", days_remaining=4, cert_role="server")
    shown = meta.json_fields()
    assert shown["cert_id"] == soon.cert.id and shown["cert_role"] == "server" and "api_id" not in shown
    assert shown["expires_at"] == meta.expires_at.isoformat() and shown["Message"] == "m"
    assert datetime.fromisoformat(shown["expires_at"]) - meta.expires_at == timedelta(0)
