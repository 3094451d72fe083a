"""Tyk's event routing rule, one function each for firing and for registering: which tables an event
reaches, and which registrations can never run (the gateway warns about those at load)."""

from __future__ import annotations

import pytest

from gateway.events.catalog import Event
from gateway.events.routes import GATEWAY, SYSTEM_EVENTS, reachable, tables


def test_token_endpoint_and_key_expiry_events_are_system_events() -> None:
    assert {
        Event.TokenCreated,
        Event.TokenUpdated,
        Event.TokenDeleted,
        Event.WebhookEndpointPaused,
        Event.WebhookEndpointResumed,
        Event.KeyExpiringSoon,
    } == SYSTEM_EVENTS


@pytest.mark.parametrize(
    ("api_id", "event", "expected"),
    [
        ("", Event.TokenCreated, ("",)),
        ("api1", Event.TokenCreated, ("",)),  # however it is fired, tyk.conf's handlers only
        ("api1", Event.QuotaExceeded, ("api1",)),
        ("api1", Event.TriggerExceeded, ("api1", "")),  # the monitor's webhook is gateway-level
        ("api1", "OrderSeen", ("api1", "")),  # custom events reach both
        ("", Event.CertificateExpiringSoon, ("",)),  # a server certificate belongs to no API
        ("api1", Event.CertificateExpiringSoon, ("api1",)),
        ("api1", Event.WebhookDeliveryFailed, ("api1", "")),  # the API's handlers and tyk.conf's
        ("", Event.WebhookDeliveryFailed, ("",)),  # a tyk.conf webhook's failure
        ("api1", Event.WebhookEndpointPaused, ("",)),
    ],
)
def test_an_event_reaches_these_tables(api_id: str, event: str, expected: tuple[str, ...]) -> None:
    assert tables(api_id, event) == expected


@pytest.mark.parametrize(
    ("table", "event", "expected"),
    [
        (GATEWAY, Event.TokenDeleted, True),
        ("api1", Event.TokenDeleted, False),
        (GATEWAY, Event.QuotaExceeded, False),
        ("api1", Event.QuotaExceeded, True),
        (GATEWAY, Event.TriggerExceeded, True),
        ("api1", Event.TriggerExceeded, True),
        (GATEWAY, "OrderSeen", True),
        (GATEWAY, Event.CertificateExpired, True),
        ("api1", Event.CertificateExpired, True),
    ],
)
def test_a_registration_is_reachable_or_warned(table: str, event: str, expected: bool) -> None:
    assert reachable(table, event) is expected
