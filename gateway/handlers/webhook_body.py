"""What a webhook handler sends, apart from when: the data its template sees (the key masked when
`redact_keys` says so), the CloudEvents envelope around an event, its headers, and the form its target
URL must have. It renders no template and decides nothing about when or whether to send: webhook.py does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from gateway.delivery import envelope
from gateway.events.catalog import EventMessage
from gateway.handlers.base import HandlerScope
from gateway.log import redact_key

KEY_FIELDS = ("Key", "key")  # the meta's key, as templates (Go names) and JSON (snake) name it


def template_data(msg: EventMessage, redact: bool) -> dict[str, Any]:
    data = msg.template_data()
    if redact and data["Meta"].get("Key"):
        # Tyk's field stays; only its value is masked (events.redact_keys_in_payloads, redact_keys).
        data["Meta"] = data["EventMetaData"] = {**data["Meta"], "Key": redact_key(str(data["Meta"]["Key"]))}
    return data


def cloudevent(
    msg: EventMessage, scope: HandlerScope, rendered: str | None, redact: bool, delivery_id: str
) -> bytes:
    """The envelope: `data` is the template's output when the handler names a template (`rendered`),
    else the event, its meta as JS and Python handlers see it."""
    api_id = msg.api_id or scope.api_id
    if rendered is not None:
        data = envelope.template_data(rendered)
    else:
        meta = msg.meta.json_fields()
        if redact:
            meta = {k: redact_key(str(v)) if k in KEY_FIELDS and v else v for k, v in meta.items()}
        data = envelope.event_data(msg.type, api_id, msg.org_id or scope.org_id, meta)
    return envelope.cloudevent(msg.type, api_id, delivery_id, msg.timestamp, data)


def headers(own: dict[str, str], request_id: str) -> tuple[tuple[str, str], ...]:
    """The handler's headers, plus the X-Request-ID of the request that fired the event (not in Tyk; a
    header_map that names it wins)."""
    out = tuple(own.items())
    if request_id and not any(name.lower() == "x-request-id" for name in own):
        out += (("X-Request-ID", request_id),)
    return out


def http_url(url: str) -> bool:
    """An absolute http(s) URL that urllib can take apart: a malformed IPv6 host, or a port out of range
    or not a number, would raise where the webhook is sent (and a handler is checked at every load)."""
    try:
        split = urlsplit(url)
        split.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return False
    return split.scheme in ("http", "https") and bool(split.netloc)
