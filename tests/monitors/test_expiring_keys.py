"""The key expiry scan on both stores, with an injected clock: the smallest threshold crossed fires once
per key and threshold (across restarts: the markers are in the store), a new `expires` fires again, one
scanner holds the lease and another takes over when it lapses, and a store outage skips a scan."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.config.model import EventsConfig, StorageConfig
from gateway.events.catalog import Event, EventMessage, KeyExpiringMeta
from gateway.monitors.expiring_keys import (
    DAY,
    LEASE_KEY,
    PAGE,
    KeyExpiryScanner,
    message,
    threshold,
)
from gateway.store.base import Store
from gateway.store.registry import open_store
from gateway.testing import eventually, unused_port

NOW = 1_900_000_000.0
CONFIG = EventsConfig(key_expiry_warning_days=[7, 1], key_expiry_scan_interval=60.0)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def scanner(store: Store, fired: list[EventMessage], clock: Clock, node: str = "n1") -> KeyExpiryScanner:
    return KeyExpiryScanner(CONFIG, store, fired.append, clock=clock, node_id=node)


async def put(store: Store, key_id: str, expires: float, org: str = "org1", **more: Any) -> None:
    await store.set("apikey-" + key_id, json.dumps({"org_id": org, "expires": int(expires), **more}))


def notices(fired: list[EventMessage]) -> list[tuple[str, int, str]]:
    out = []
    for m in fired:
        assert m.type == Event.KeyExpiringSoon and isinstance(m.meta, KeyExpiringMeta)
        out.append((m.meta.key, m.meta.days_remaining, m.meta.message))
    return sorted(out)


def test_the_smallest_threshold_crossed_counts() -> None:
    assert threshold(3 * DAY, (1, 7)) == 7
    assert threshold(0.5 * DAY, (1, 7)) == 1
    assert threshold(7 * DAY, (1, 7)) == 7  # "within 7 days" includes the 7th
    assert threshold(7 * DAY + 1, (1, 7)) is None
    assert (message(1), message(7)) == ("Key expiring within 1 day", "Key expiring within 7 days")


async def test_each_key_fires_once_per_threshold(store: Store) -> None:
    fired: list[EventMessage] = []
    clock = Clock()
    await put(store, "org1-three-days", NOW + 3 * DAY)
    await put(store, "org1-half-a-day", NOW + DAY / 2, org="org2")
    await put(store, "org1-thirty-days", NOW + 30 * DAY)
    await put(store, "org1-never", 0)
    await put(store, "org1-gone", NOW - 10)
    await store.set("apikey-org1-broken", "not json")
    one = scanner(store, fired, clock)
    assert await one.scan() == 2
    assert notices(fired) == [
        ("****-day", 0, "Key expiring within 1 day"),
        ("****days", 3, "Key expiring within 7 days"),
    ]
    soon = next(m for m in fired if m.org_id == "org2")
    assert isinstance(soon.meta, KeyExpiringMeta) and soon.meta.org_id == "org2"
    assert soon.meta.expires_at == datetime.fromtimestamp(int(NOW + DAY / 2), UTC)
    assert soon.api_id == ""  # tyk.conf's handlers take it
    assert "half-a-day" not in repr([m.meta for m in fired])  # the raw key is never sent
    assert await one.scan() == 0  # a second scan repeats nothing
    # A restarted gateway (a fresh scanner, nothing in memory) finds the markers in the store.
    assert await scanner(store, fired, clock).scan() == 0
    clock.now += 2.75 * DAY  # the 3-day key is now within 1 day: its next threshold fires, once
    assert await one.scan() == 1 and await one.scan() == 0
    assert notices(fired[2:]) == [("****days", 0, "Key expiring within 1 day")]


async def test_a_key_given_a_new_expiry_is_warned_again(store: Store) -> None:
    fired: list[EventMessage] = []
    clock = Clock()
    await put(store, "org1-renewed", NOW + 2 * DAY)
    one = scanner(store, fired, clock)
    assert await one.scan() == 1
    await put(store, "org1-renewed", NOW + 5 * DAY)  # extended, still within 7 days
    assert await one.scan() == 1
    assert [m.meta.days_remaining for m in fired if isinstance(m.meta, KeyExpiringMeta)] == [2, 5]
    await put(store, "org1-renewed", NOW + 60 * DAY)  # extended beyond every threshold
    assert await one.scan() == 0


async def test_a_scan_reads_every_page(store: Store) -> None:
    fired: list[EventMessage] = []
    for n in range(2 * PAGE + 50):
        await put(store, f"org1-key{n:04d}", NOW + (DAY if n % 100 == 7 else 40 * DAY))
    assert await scanner(store, fired, Clock()).scan() == 5  # keys 7, 107, 207, 307, 407
    assert await store.get(LEASE_KEY) == "n1"


async def test_one_scanner_holds_the_lease_and_another_takes_over(store: Store) -> None:
    fired: list[EventMessage] = []
    clock = Clock()
    one, two = scanner(store, fired, clock, "n1"), scanner(store, fired, clock, "n2")
    await put(store, "org1-first", NOW + DAY)
    assert await one.scan() == 1
    assert await store.get(LEASE_KEY) == "n1"
    await put(store, "org1-second", NOW + DAY)
    assert await two.scan() == 0  # n1 holds the role
    await store.delete(LEASE_KEY)  # n1's lease lapses, as when its gateway dies
    assert await two.scan() == 1  # n2 takes over: the second key only, the first was marked
    assert await store.get(LEASE_KEY) == "n2"
    assert one.lease_ttl_ms == 70_000  # an interval and the slack: kept from scan to scan


async def test_on_the_embedded_store_a_restart_keeps_the_role(tmp_path: Path) -> None:
    """One process per embedded store: a gateway that crashed holding the lease takes it up again."""
    first = open_store(StorageConfig(type="embedded", path=str(tmp_path / "one")))
    try:
        assert await scanner(first, [], Clock(), node="").scan() == 0
        assert await first.get(LEASE_KEY) == "embedded"
        assert await first.lease(LEASE_KEY, "embedded", 60_000)
    finally:
        await first.close()
    fired: list[EventMessage] = []
    again = open_store(StorageConfig(type="embedded", path=str(tmp_path / "one")))
    try:
        await put(again, "org1-soon", NOW + DAY)
        assert await scanner(again, fired, Clock(), node="").scan() == 1  # no wait for the old lease
    finally:
        await again.close()


async def test_start_scans_at_once_and_stop_hands_the_lease_back(store: Store) -> None:
    fired: list[EventMessage] = []
    await put(store, "org1-soon", NOW + DAY)
    one = scanner(store, fired, Clock())
    one.start()
    await eventually(lambda: len(fired) == 1, "the first scan at start")
    await one.stop()
    assert await store.get(LEASE_KEY) is None


async def test_no_thresholds_no_task(store: Store) -> None:
    off = KeyExpiryScanner(EventsConfig(), store, [].append)
    off.start()
    await off.stop()
    assert await store.get(LEASE_KEY) is None


async def test_a_store_outage_skips_the_scan_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    down = open_store(StorageConfig(type="redis", host="127.0.0.1", port=unused_port()))
    fired: list[EventMessage] = []
    one = scanner(down, fired, Clock())
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.key_expiry"):
            assert await one.scan() == 0
            assert await one.scan() == 0
    finally:
        await down.close()
    lines = [r for r in caplog.records if "key expiry scan skipped" in r.getMessage()]
    assert len(lines) == 1 and fired == []
