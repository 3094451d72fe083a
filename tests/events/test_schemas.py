"""The event catalog's schemas: generated for every event, valid draft 2020-12, true of the samples and of
what the default template and the CloudEvents envelope really render; the e2e check catches a bad body;
sample overrides are checked field by field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import jsonschema_rs
import pytest

from gateway.delivery import envelope
from gateway.events import schemas
from gateway.events.asyncapi import catalog
from gateway.events.catalog import META_TYPES, Event, EventMessage
from gateway.handlers import preview
from gateway.packaged import TEMPLATES
from gateway.templating.template import load_template
from gateway.testing.recorder import Delivery
from tests.catalog_check import CatalogCheck

DEFAULT = load_template(TEMPLATES / "default_webhook.json")
BODIES = preview.body_schemas(DEFAULT)
HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1700000000", "content-type": "application/json"}


def valid(schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema_rs.validator_for(schemas.standalone(schema, "t"), validate_formats=True)
    return [e.message for e in validator.iter_errors(value)]


def delivery(body: Any) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Delivery("POST", "/hook", "", dict(HEADERS), raw)


def test_every_event_has_schemas_that_are_draft_2020_12() -> None:
    document = catalog(BODIES, "0.0.0")
    assert set(document["events"]) == {str(e) for e in Event}
    for name, entry in document["events"].items():
        assert entry["description"].startswith(name)
        for part in ("meta", "meta_json", "webhook_body", "cloudevents"):
            assert entry[part]["$schema"] == schemas.DIALECT
            assert jsonschema_rs.meta.is_valid(entry[part]), (name, part)


@pytest.mark.parametrize("event", list(Event))
def test_the_sample_and_the_zero_meta_of_each_event_fit_both_views(event: Event) -> None:
    for meta in (schemas.sample_meta(event), META_TYPES[event]("")):
        assert valid(schemas.meta_schema(event), _plain(meta.go_fields())) == []
        assert valid(schemas.meta_schema(event, json_view=True), meta.json_fields()) == []


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """A Go view as JSON: a time is printed (templates print it)."""
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}


def test_meta_schemas_follow_the_dataclasses() -> None:
    cert = schemas.meta_schema(Event.CertificateExpiringSoon, json_view=True)
    assert cert["properties"]["days_remaining"] == {"type": "integer"}
    assert cert["properties"]["expires_at"] == {"type": "string", "format": "date-time"}
    assert "api_id" not in cert["required"]  # Tyk's omitempty: a server certificate has none
    host = schemas.meta_schema(Event.HostDown)
    assert host["properties"]["HostInfo"]["type"] == "object" and host["required"][-1] == "HostInfo"
    assert "RequestID" not in schemas.meta_schema(Event.AuthFailure)["required"]  # only when set
    assert schemas.meta_schema(Event.OAuth2ExchangeFailed)["additionalProperties"] is True
    assert schemas.meta_schema(Event.TokenCreated)["additionalProperties"] is False


@pytest.mark.parametrize("event", list(Event))
def test_what_the_default_template_renders_fits_its_body_schema(event: Event) -> None:
    body = json.loads(DEFAULT.render(schemas.sample_event(event).template_data()))
    assert valid(BODIES[event], body) == []
    assert valid(BODIES[event], {**body, "event": "SomethingElse"}) != []


def test_body_schemas_type_what_the_template_writes() -> None:
    cert = BODIES[Event.CertificateExpiringSoon]
    assert cert["properties"]["days_remaining"] == {"type": "integer"}
    assert cert["properties"]["expires_at"] == {"type": "string", "format": "date-time"}  # as_rfc3339
    assert "api_id" in cert["properties"] and "api_id" not in cert["required"]  # {{if .Meta.APIID}}
    assert BODIES[Event.HostDown]["properties"]["response_code"] == {"type": "string"}
    assert set(BODIES[Event.RatelimitExceeded]["required"]) == {"event", "message", "path", "origin", "key"}


def test_the_digest_fields_are_the_ones_the_envelope_writes() -> None:
    assert tuple(schemas.DIGEST_FIELDS) == envelope.DIGEST_FIELDS
    assert tuple(schemas.DIGEST_ATTRIBUTES) == envelope.DIGEST_ATTRIBUTES
    assert schemas.CLOUDEVENTS_TYPE_PREFIX == envelope.TYPE_PREFIX


@pytest.mark.parametrize("event", [Event.RatelimitExceeded, Event.CertificateExpired, Event.HostUp])
def test_a_cloudevent_as_the_envelope_writes_it_fits_its_schema(event: Event) -> None:
    msg = schemas.sample_event(event)
    data = envelope.event_data(event, "api", "org", msg.meta.json_fields())
    body = json.loads(envelope.cloudevent(event, "api", "msg_1", msg.timestamp, data))
    schema = schemas.cloudevents_schema(event, schemas.event_data_schema(event))
    assert valid(schema, body) == []
    assert valid(schema, {**body, "type": "io.tyk.gateway.Other"}) != []
    digest = json.loads(envelope.with_digest(json.dumps(body).encode(), True, "msg_2", 3, 1.0, 2.0))
    assert valid(schema, digest) == []


def test_the_e2e_check_catches_a_bad_body_and_counts_what_it_cannot_judge() -> None:
    check = CatalogCheck()
    good = json.loads(DEFAULT.render(schemas.sample_event(Event.AuthFailure).template_data()))
    assert check.check(delivery(good)) == []
    missing = {k: v for k, v in good.items() if k != "key"}
    assert check.check(delivery(missing)) == ['AuthFailure webhook_body at /: "key" is a required property']
    typed = check.check(delivery({**good, "key": 12}))
    assert typed == ['AuthFailure webhook_body at /key: 12 is not of type "string"']
    cert = json.loads(DEFAULT.render(schemas.sample_event(Event.CertificateExpired).template_data()))
    assert check.check(delivery({**cert, "days_since_expiry": "2"})) != []
    unsigned = Delivery("POST", "/", "", {}, json.dumps(good).encode())
    assert check.check(unsigned) == [
        "AuthFailure: header webhook-id missing",
        "AuthFailure: header webhook-timestamp missing",
    ]
    assert check.check(delivery({"event": "AuthFailure", "customer": "ada"})) == []  # a custom template's
    assert check.check(delivery(b"plain text")) == []
    assert check.validated == {"AuthFailure": 4, "CertificateExpired": 1}
    assert (check.skipped, check.other) == (1, 1)
    bad_event = {
        **json.loads(envelope.cloudevent("AuthFailure", "", "m", datetime.now(UTC), {})),
        "source": "x",
    }
    assert check.check(delivery(bad_event)) != []


def test_sample_overrides_are_checked_by_go_name() -> None:
    meta = schemas.sample_meta(
        Event.CertificateExpiringSoon, {"DaysRemaining": 3, "ExpiresAt": "2030-01-01T00:00:00Z"}
    )
    assert meta.go_fields()["DaysRemaining"] == 3
    assert meta.go_fields()["ExpiresAt"] == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match=re.escape("meta.Nope: AuthFailure has no such field")):
        schemas.sample_meta(Event.AuthFailure, {"Nope": 1})
    with pytest.raises(ValueError, match=re.escape("meta.DaysRemaining: expected int, got '3'")):
        schemas.sample_meta(Event.CertificateExpiringSoon, {"DaysRemaining": "3"})
    with pytest.raises(ValueError, match=re.escape("meta.ExpiresAt: 'soon' is not an RFC 3339 time")):
        schemas.sample_meta(Event.CertificateExpiringSoon, {"ExpiresAt": "soon"})
    oauth = schemas.sample_meta(Event.OAuth2ExchangeFailed, {"client_id": "c1"})  # a string map takes any
    assert oauth.go_fields()["client_id"] == "c1"


def test_a_sample_event_renders_at_a_fixed_time() -> None:
    first, second = schemas.sample_event(Event.HostDown), schemas.sample_event(Event.HostDown)
    assert first == second and isinstance(first, EventMessage)
    assert first.meta.go_fields()["HostInfo"]["MetaData"]["host_name"] == "upstream.example"
