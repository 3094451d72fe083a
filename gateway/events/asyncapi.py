"""The event catalog (`GET /tyk/events/catalog`) and the AsyncAPI 3.0 document of what the gateway
sends (`GET /tyk/events/asyncapi.json`), both built from events/schemas.py for every catalogued event.

Pure: the caller hands in the default template's body schemas, the version and the retry settings. It
describes the webhooks; it never decides how they are sent (delivery/ does).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.events import schemas
from gateway.events.catalog import META_TYPES, Event, MapMeta

CATALOG_VERSION = 1  # of the catalog's own shape; the gateway's version says which events it has

_ORIGIN = {
    Event.WebhookDeliveryFailed: "a webhook delivery given up or answered 410 (not in Tyk)",
    Event.WebhookEndpointPaused: "a webhook target paused by its failure budget (not in Tyk)",
    Event.WebhookEndpointResumed: "a paused webhook target resumed by a delivered probe (not in Tyk)",
    Event.KeyExpiringSoon: "a key's expiry within events.key_expiry_warning_days (not in Tyk)",
}


def description(event: Event) -> str:
    """One line: what fires it (docs/events.md has the full table), and its meta's Go fields."""
    meta = META_TYPES[event]
    fields = ", ".join(schemas.meta_schema(event)["properties"])
    origin = _ORIGIN.get(event, "one of Tyk's events")
    extra = "; any further fields of a string map" if meta is MapMeta else ""
    return f"{event}: {origin}. Meta (templates' .Meta): {fields}{extra}."


def catalog(bodies: Mapping[Event, Mapping[str, Any]], version: str) -> dict[str, Any]:
    """{"version", "gateway_version", "dialect", "events": {name: {...schemas}}} for every event."""
    events: dict[str, Any] = {}
    for event in Event:
        data = schemas.event_data_schema(event)
        events[str(event)] = {
            "description": description(event),
            "meta": schemas.standalone(schemas.meta_schema(event), f"{event} meta (templates)"),
            "meta_json": schemas.standalone(
                schemas.meta_schema(event, True), f"{event} meta (JSON handlers)"
            ),
            "webhook_body": schemas.standalone(bodies[event], f"{event} default webhook body"),
            "cloudevents": schemas.standalone(schemas.cloudevents_schema(event, data), f"{event} CloudEvent"),
        }
    return {
        "version": CATALOG_VERSION,
        "gateway_version": version,
        "dialect": schemas.DIALECT,
        "events": events,
    }


_SIGNED = (
    "Standard Webhooks signatures, one per signing secret, space-separated: `v1,<base64 HMAC-SHA256>` for "
    "a `whsec_` secret, `v1a,<base64 Ed25519>` for a `whsk_` secret key (public keys: GET "
    "/tyk/webhooks/signing-keys), over `<webhook-id>.<webhook-timestamp>.<body>`. Only when the handler "
    "has signing_secrets."
)
HEADERS = {
    "type": "object",
    "properties": {
        "webhook-id": {"type": "string", "description": "The delivery's id: the same on every attempt."},
        "webhook-timestamp": {"type": "string", "pattern": "^[0-9]+$", "description": "Unix seconds."},
        "webhook-signature": {"type": "string", "description": _SIGNED},
        "X-Request-ID": {"type": "string", "description": "The request that fired the event, if one did."},
        "User-Agent": {"const": "Tyk-Hookshot"},
        "Content-Type": {"enum": ["application/json", "application/cloudevents+json"]},
    },
    "required": ["webhook-id", "webhook-timestamp"],
}


def asyncapi(
    bodies: Mapping[Event, Mapping[str, Any]], version: str, retry: Mapping[str, float]
) -> dict[str, Any]:
    """AsyncAPI 3.0: a channel and a `send` operation per event, each with two messages (the default
    body and the CloudEvents envelope); the headers, the signatures and `retry` (tyk.conf events.retry_*)."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    payloads: dict[str, Any] = {"WebhookHeaders": HEADERS}
    for event in Event:
        name = str(event)
        payloads[name] = dict(bodies[event])
        payloads[f"{name}CloudEvent"] = schemas.cloudevents_schema(event, schemas.event_data_schema(event))
        messages[name] = _message(name, name, "the default webhook template's body", "application/json")
        messages[f"{name}CloudEvent"] = _message(
            name,
            f"{name}CloudEvent",
            'envelope: "cloudevents" (CloudEvents 1.0)',
            "application/cloudevents+json",
        )
        refs = {m: {"$ref": f"#/components/messages/{m}"} for m in (name, f"{name}CloudEvent")}
        channels[name] = {
            "address": None,  # each handler's own target_path
            "title": name,
            "description": description(event),
            "messages": refs,
        }
        operations[f"send{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"A webhook for {name} to every handler registered for it (the handler's method: "
            "GET when none is set, as in Tyk).",
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in refs],
            "traits": [{"$ref": "#/components/operationTraits/webhook"}],
            "security": [{"$ref": f"#/components/securitySchemes/{s}"} for s in ("hmac", "ed25519")],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "tyk-mini-gateway events",
            "version": version,
            "description": "The webhooks this gateway sends for its events (GET /tyk/events/catalog has the "
            "same schemas as standalone JSON Schemas).",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": payloads,
            "messages": messages,
            "operationTraits": {"webhook": _trait(retry)},
            "securitySchemes": {
                "hmac": {"type": "symmetricEncryption", "description": "`v1`: HMAC-SHA256. " + _SIGNED},
                "ed25519": {"type": "asymmetricEncryption", "description": "`v1a`: Ed25519. " + _SIGNED},
            },
        },
    }


def _message(event: str, schema: str, what: str, content_type: str) -> dict[str, Any]:
    return {
        "name": schema,
        "title": f"{event}: {what}",
        "contentType": content_type,
        "headers": {"$ref": "#/components/schemas/WebhookHeaders"},
        "payload": {"$ref": f"#/components/schemas/{schema}"},
    }


def _trait(retry: Mapping[str, float]) -> dict[str, Any]:
    """How every webhook is sent: the retry policy of tyk.conf (a handler may override it)."""
    return {
        "description": (
            "Sent from the outbox: retried on a connection error, a timeout, 408, 425, 429 and 5xx with "
            "full-jitter backoff (a wait in [0, min(max_delay, base_delay * 2^n)], Retry-After honoured) "
            "up to "
            f"{retry['max_attempts']} attempts within {retry['max_elapsed']} s; 410 Gone stops at once; "
            "every attempt carries the same webhook-id. A handler's own retry settings override these."
        ),
        "x-retry-policy": dict(retry),
    }
