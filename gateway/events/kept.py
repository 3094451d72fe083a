"""A kept event (delivery/events_kept.py's record: type, API, org, Go-named meta, Unix time) made an
EventMessage again, for a replay to a webhook added later.

Pure: no I/O. A field the record lacks takes its zero (the request id) or a sample value (events/
schemas.py), so an old record still renders; a value of the wrong type is a ValueError naming it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.events.catalog import Event, EventMessage, EventMeta, MapMeta
from gateway.events.schemas import sample_meta


def message(kept: Mapping[str, Any]) -> EventMessage:
    """The EventMessage a kept record was made from (less its originating request); ValueError."""
    name = str(kept.get("type", ""))
    raw = kept.get("meta")
    meta: dict[str, Any] = {"RequestID": "", **(raw if isinstance(raw, dict) else {})}
    body: EventMeta
    if name in Event.__members__:
        body = sample_meta(Event(name), meta)
    else:  # a custom event: its fields as a plain map, as a hook fired them
        body = MapMeta(str(meta.pop("Message", "")), request_id=str(meta.pop("RequestID")), values=meta)
    try:
        when = datetime.fromtimestamp(float(kept.get("timestamp", 0)), UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"timestamp: {kept.get('timestamp')!r}: {exc}") from None
    return EventMessage(name, body, str(kept.get("api_id", "")), str(kept.get("org_id", "")), when)
