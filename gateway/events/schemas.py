"""JSON Schemas (draft 2020-12) of every catalogued event, derived from its meta dataclass, and sample
metas to render: what `GET /tyk/events/catalog`, the AsyncAPI document and the template preview share.

Nothing here is written per event: types come from the dataclass fields, optional fields and webhook
bodies from rendering samples (the caller renders: this module never loads a template). Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.events.catalog import META_TYPES, Event, EventMessage, EventMeta, MapMeta, go_name

DIALECT = "https://json-schema.org/draft/2020-12/schema"
SAMPLE_API = "sample-api"
SAMPLE_TIME = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # fixed: a schema example must not change per call

# Sample values by field name (any event's field of that name); a field not named here gets one by type.
_SAMPLES: dict[str, Any] = {
    "path": "/sample/path",
    "origin": "203.0.113.10",  # TEST-NET-3: no one's address
    "key": "sample-key-0000",
    "api_id": SAMPLE_API,
    "org_id": "sample-org",
    "org": "sample-org",
    "request_id": "sample-request",
    "reason": "sample reason",
    "target": "https://receiver.example/hook",
    "webhook_id": "msg_sample",
    "event": "RatelimitExceeded",
    "last_error": "503 Service Unavailable",
    "attempts": 3,
    "days_remaining": 7,
    "days_since_expiry": 2,
    "trigger_limit": 80,
    "usage_percentage": 85,
    "cert_role": "client",
    "expires_at": SAMPLE_TIME + timedelta(days=7),
    "expired_at": SAMPLE_TIME - timedelta(days=2),
    "host_info": {  # Tyk's HostHealthReport, as monitors/uptime.py fills it
        "CheckURL": "http://upstream.example/health",
        "Protocol": "http",
        "Timeout": 10_000_000_000,
        "EnableProxyProtocol": False,
        "Commands": [],
        "Method": "GET",
        "Headers": {},
        "Body": "",
        "MetaData": {
            "target_url": "http://upstream.example/health",
            "api_id": SAMPLE_API,
            "host_name": "upstream.example",
        },
        "ResponseCode": 503,
        "Latency": 12,
        "IsTCPError": False,
    },
}
_BY_TYPE: dict[str, Any] = {"str": "", "int": 1, "bool": False, "datetime": SAMPLE_TIME}


def _kind(annotation: object) -> str:
    """A field's type as its annotation string names it (`from __future__ import annotations`)."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    return text.split("[", 1)[0]


def _fields(cls: type[EventMeta]) -> dict[str, dataclasses.Field[Any]]:
    return {f.name: f for f in dataclasses.fields(cls)}


def _type_schema(kind: str, json_view: bool) -> dict[str, Any]:
    if kind == "datetime":
        # Templates see a Go time (`as_rfc3339` prints RFC 3339); the JSON view is ISO 8601 already.
        return {"type": "string", "format": "date-time"} if json_view else {"type": "string"}
    if kind == "dict":
        return {"type": "object", "additionalProperties": True}
    return {"type": {"str": "string", "int": "integer", "bool": "boolean"}.get(kind, "string")}


def sample_meta(event: Event, overrides: Mapping[str, Any] | None = None) -> EventMeta:
    """A meta of `event` with a sample value in every field; `overrides` by Go name (`Key`, `APIID`), as
    templates name them. ValueError naming the field and the value for an unknown field or a bad type."""
    cls = META_TYPES[event]
    fields = _fields(cls)
    values: dict[str, Any] = {"message": f"Sample {event} event"}
    for name, f in fields.items():
        if name not in ("message", "values"):
            values[name] = _SAMPLES.get(name, _BY_TYPE.get(_kind(f.type), ""))
    if not cls.from_request:  # only a request-caused event carries a request id
        values["request_id"] = ""
    extra: dict[str, Any] = {}
    by_go = {go_name(name): name for name in fields if name != "values"}
    for go, value in (overrides or {}).items():
        attr = by_go.get(go)
        if attr is None:
            if cls is not MapMeta:  # only a string-map meta takes fields of any name
                raise ValueError(f"meta.{go}: {event} has no such field (it has {', '.join(sorted(by_go))})")
            extra[go] = value
            continue
        values[attr] = _checked(f"meta.{go}", _kind(fields[attr].type), value)
    if cls is MapMeta:
        values["values"] = extra
    message = values.pop("message")
    return cls(message, **values)


def _checked(where: str, kind: str, value: Any) -> Any:
    """An override of a field of type `kind` (a datetime as RFC 3339 text); ValueError if it is not one."""
    if kind == "datetime" and isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{where}: {value!r} is not an RFC 3339 time") from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    expected = {"str": str, "int": int, "bool": bool, "dict": dict}.get(kind)
    if expected is None or not isinstance(value, expected) or (kind == "int" and isinstance(value, bool)):
        raise ValueError(
            f"{where}: expected {'an RFC 3339 time' if kind == 'datetime' else kind}, got {value!r}"
        )
    return value


def sample_event(event: Event, overrides: Mapping[str, Any] | None = None) -> EventMessage:
    return EventMessage(event, sample_meta(event, overrides), SAMPLE_API, timestamp=SAMPLE_TIME)


def meta_schema(event: Event, json_view: bool = False) -> dict[str, Any]:
    """The meta as templates see it (`.Meta.X`, Go names) or, with `json_view`, as JSON handlers and
    CloudEvents `data.meta` carry it. A field present with every value zero is required."""
    cls = META_TYPES[event]
    kinds = {name: _kind(f.type) for name, f in _fields(cls).items()}

    def view(meta: EventMeta) -> dict[str, Any]:
        return meta.json_fields() if json_view else meta.go_fields()

    # Any event fired while a request is served carries its id, whatever the meta: optional everywhere.
    full, bare = view(sample_meta(event, {"RequestID": "sample-request"})), view(META_TYPES[event](""))
    names = {go_name(n): n for n in kinds} | {n: n for n in kinds}  # a JSON view may keep snake_case
    properties = {key: _type_schema(kinds.get(names.get(key, ""), "str"), json_view) for key in full}
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in full if key in bare],
        "additionalProperties": cls is MapMeta,  # OAuth2 and custom events carry a map of any fields
    }


def body_schema(
    event: Event, render: Callable[[EventMessage], str], parse: Callable[[str], Any]
) -> dict[str, Any]:
    """The schema of what `render` (a template) makes of `event`, from the JSON it renders for a full and
    for an all-zero sample: the keys of both are required, every value typed as rendered."""
    full = parse(render(sample_event(event)))
    bare = parse(render(EventMessage(event, META_TYPES[event](""), SAMPLE_API, timestamp=SAMPLE_TIME)))
    if not isinstance(full, dict) or not isinstance(bare, dict):
        return {"type": ["object", "array", "string", "number", "boolean", "null"]}  # not an object: any
    properties = {key: infer(value) for key, value in {**bare, **full}.items()}
    for key, value in full.items():  # a time in both samples is a time (`as_rfc3339`): say so
        if _is_time(value) and _is_time(bare.get(key)):
            properties[key] = dict(_TIME)
    if full.get("event") == str(event):  # the event names itself: hold the body to its own name
        properties["event"] = {"const": str(event)}
    properties.update(DIGEST_FIELDS)  # only a digest delivery has them: never required
    return {
        "type": "object",
        "properties": properties,
        "required": [key for key in full if key in bare],
        "additionalProperties": False,
    }


# What `cooldown_mode: "digest"` adds to a JSON object body, and as CloudEvents extension attributes
# (delivery/envelope.py writes them; tests/events/test_schemas.py keeps the names the same).
_TIME = {"type": "string", "format": "date-time"}
DIGEST_FIELDS = {"suppressed_count": {"type": "integer"}, "first_suppressed": _TIME, "last_suppressed": _TIME}
DIGEST_ATTRIBUTES = {
    "suppressedcount": {"type": "integer"},
    "firstsuppressed": _TIME,
    "lastsuppressed": _TIME,
}
CLOUDEVENTS_TYPE_PREFIX = "io.tyk.gateway."


def event_data_schema(event: Event) -> dict[str, Any]:
    """CloudEvents `data` of a webhook without template_path: the event as JSON handlers see it."""
    return {
        "type": "object",
        "properties": {
            "type": {"const": str(event)},
            "api_id": {"type": "string"},
            "org_id": {"type": "string"},
            "meta": meta_schema(event, json_view=True),
        },
        "required": ["type", "api_id", "org_id", "meta"],
        "additionalProperties": False,
    }


def cloudevents_schema(event: Event, data: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode body (`envelope: "cloudevents"`) carrying `data`."""
    return {
        "type": "object",
        "properties": {
            "specversion": {"const": "1.0"},
            "type": {"const": CLOUDEVENTS_TYPE_PREFIX + str(event)},
            "source": {"type": "string", "pattern": "^/tyk/(gateway|apis/.+)$"},
            "id": {"type": "string", "minLength": 1, "description": "the delivery's webhook-id"},
            "time": _TIME,
            "datacontenttype": {"enum": ["application/json", "text/plain"]},
            "data": dict(data),
            **DIGEST_ATTRIBUTES,
        },
        "required": ["specversion", "type", "source", "id", "time", "datacontenttype", "data"],
        "additionalProperties": False,
    }


def _is_time(value: object) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        return datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


def infer(value: Any) -> dict[str, Any]:
    """The JSON Schema type of a rendered value (objects open: a map's keys vary with the data)."""
    name = next((n for t, n in _JSON_TYPES if isinstance(value, t)), "null")
    return {"type": "object", "additionalProperties": True} if name == "object" else {"type": name}


# bool before int: Python's True is an int too.
_JSON_TYPES = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def standalone(schema: Mapping[str, Any], title: str) -> dict[str, Any]:
    """A schema that validates on its own: the dialect named, and a title."""
    return {"$schema": DIALECT, "title": title, **schema}
