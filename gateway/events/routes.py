"""Tyk's event routing rule, in one place: which handler tables an event reaches, and whether a handler
registered in tyk.conf or in an API definition can ever be reached.

Token events, webhook endpoint events and KeyExpiringSoon go only to tyk.conf's handlers; the quota
monitor's, WebhookDeliveryFailed and custom events to the API's and tyk.conf's; every other event to its
API's only. It must not hold handlers: the bus owns the table.
"""

from __future__ import annotations

from gateway.events.catalog import Event, is_custom

GATEWAY = ""  # the api_id of tyk.conf's handler table (and of events no API fires)
_AN_API = "\0api"  # stands for any API's table in `reachable` (no api_id contains NUL)

# Fired for no API (the REST API, a webhook target, a key of any API): tyk.conf's handlers only.
SYSTEM_EVENTS = frozenset(
    {
        Event.TokenCreated,
        Event.TokenUpdated,
        Event.TokenDeleted,
        Event.WebhookEndpointPaused,
        Event.WebhookEndpointResumed,
        Event.KeyExpiringSoon,
    }
)
# Fired per API, and also for no API (server certificates, tyk.conf's upstream certificates, a failed
# delivery of a tyk.conf webhook).
_ALSO_GATEWAY_FIRED = frozenset(
    {Event.CertificateExpiringSoon, Event.CertificateExpired, Event.WebhookDeliveryFailed}
)


def shared(event: str) -> bool:
    """Events that reach the API's handlers AND tyk.conf's: the quota monitor's (its webhook is
    gateway-level, as in Tyk), a failed delivery's and custom events (Tyk sends those to gateway-level
    handlers only)."""
    return event in (Event.TriggerExceeded, Event.WebhookDeliveryFailed) or is_custom(event)


def tables(api_id: str, event: str) -> tuple[str, ...]:
    """The handler tables (api ids, GATEWAY for tyk.conf's) an event fired for `api_id` reaches."""
    if event in SYSTEM_EVENTS:
        return (GATEWAY,)
    if api_id != GATEWAY and shared(event):
        return (api_id, GATEWAY)
    return (api_id,)


def reachable(table: str, event: str) -> bool:
    """Whether handlers registered for `event` in `table` (an api id, or GATEWAY) can ever run."""
    if event in SYSTEM_EVENTS:
        fired_for: tuple[str, ...] = (GATEWAY,)
    elif event in _ALSO_GATEWAY_FIRED:
        fired_for = (GATEWAY, _AN_API)
    else:
        fired_for = (_AN_API,)
    side = GATEWAY if table == GATEWAY else _AN_API
    return any(side in tables(fired, event) for fired in fired_for)
