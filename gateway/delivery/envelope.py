"""The CloudEvents 1.0 structured-mode envelope of a webhook body (handler option `envelope:
"cloudevents"`), and the digest's additions to a body already rendered. Pure functions of an event and
a delivery id: it renders no template, sends nothing, and never decides when it applies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

CONTENT_TYPE = "application/cloudevents+json"
TYPE_PREFIX = "io.tyk.gateway."  # reverse-DNS, then the event's name: io.tyk.gateway.RatelimitExceeded
# CloudEvents extension attributes are lower-case letters and digits only: no underscores.
DIGEST_ATTRIBUTES = ("suppressedcount", "firstsuppressed", "lastsuppressed")
DIGEST_FIELDS = ("suppressed_count", "first_suppressed", "last_suppressed")


def rfc3339(moment: datetime | float) -> str:
    """UTC with a `Z`, to the microsecond (RFC 3339, as CloudEvents' `time` wants)."""
    when = moment if isinstance(moment, datetime) else datetime.fromtimestamp(moment, UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def source(api_id: str) -> str:
    """`/tyk/apis/<api_id>` for an API's event, `/tyk/gateway` for a gateway-level one."""
    return f"/tyk/apis/{api_id}" if api_id else "/tyk/gateway"


def event_data(event: str, api_id: str, org_id: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    """`data` when no template is given: the event as JS and Python handlers see its meta."""
    return {"type": event, "api_id": api_id, "org_id": org_id, "meta": dict(meta)}


def cloudevent(event: str, api_id: str, delivery_id: str, time: datetime, data: Any) -> bytes:
    """The structured-mode body. `id` is the delivery's webhook-id, so a receiver deduplicating on either
    agrees; a `data` that is not JSON (a text template) goes as a string with datacontenttype text/plain."""
    body = {
        "specversion": "1.0",
        "type": TYPE_PREFIX + event,
        "source": source(api_id),
        "id": delivery_id,
        "time": rfc3339(time),
        "datacontenttype": "text/plain" if isinstance(data, str) else "application/json",
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), default=str).encode()


def template_data(rendered: str) -> Any:
    """A template's output as `data`: its JSON value, or the text itself when it is not JSON."""
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


def with_digest(
    body: bytes, cloudevents: bool, delivery_id: str, count: int, first: float, last: float
) -> bytes:
    """The last suppressed event's body carrying the digest: CloudEvents extension attributes (and the
    digest's own id), or top-level fields of a JSON object; any other body is sent as it is (the
    X-Tyk-Suppressed-* headers still say it)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body
    if not isinstance(doc, dict):
        return body
    values = (count, rfc3339(first), rfc3339(last))
    if cloudevents:
        doc["id"] = delivery_id
        doc.update(zip(DIGEST_ATTRIBUTES, values, strict=True))
    else:
        doc.update(zip(DIGEST_FIELDS, values, strict=True))
    return json.dumps(doc, separators=(",", ":")).encode()
