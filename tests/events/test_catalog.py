"""The catalogue: every Tyk event has a meta type, with Tyk's Go and JSON field names."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from gateway.events.catalog import (
    META_TYPES,
    CertExpiringMeta,
    Event,
    EventMessage,
    KeyFailureMeta,
    TriggerMeta,
    VersionFailureMeta,
    go_name,
    go_timestamp,
)

SEED_EVENTS = {
    "RatelimitExceeded",
    "OrgRateLimitExceeded",
    "RateLimitSmoothingUp",
    "RateLimitSmoothingDown",
    "QuotaExceeded",
    "OrgQuotaExceeded",
    "AuthFailure",
    "KeyExpired",
    "UpstreamOAuthError",
    "VersionFailure",
    "BreakerTripped",
    "BreakerReset",
    "BreakerTriggered",
    "HostDown",
    "HostUp",
    "TokenCreated",
    "TokenUpdated",
    "TokenDeleted",
    "CertificateExpiringSoon",
    "CertificateExpired",
    "TriggerExceeded",
}


def test_every_seed_event_is_in_the_catalogue_with_a_meta() -> None:
    assert {e.value for e in Event} >= SEED_EVENTS
    assert set(META_TYPES) == set(Event)
    for event, meta_type in META_TYPES.items():
        meta = meta_type("m")
        assert meta.go_fields()["Message"] == "m", event
        assert dataclasses.is_dataclass(meta)


def test_key_failure_metas_carry_tyk_fields() -> None:
    fields = META_TYPES[Event.RatelimitExceeded]("x", path="/p", origin="1.2.3.4", key="k").go_fields()
    assert fields == {"Message": "x", "OriginatingRequest": "", "Path": "/p", "Origin": "1.2.3.4", "Key": "k"}
    assert isinstance(META_TYPES[Event.AuthFailure]("x"), KeyFailureMeta)
    assert VersionFailureMeta("x", reason="r").go_fields()["Reason"] == "r"


def test_json_names_are_snake_only_where_tyk_tags_them() -> None:
    trigger = TriggerMeta("Quota trigger reached", org_id="o", key="k", trigger_limit=80).json_fields()
    assert trigger["org_id"] == "o" and trigger["trigger_limit"] == 80 and trigger["Message"]
    cert = CertExpiringMeta("c", cert_id="abc", expires_at=datetime(2030, 1, 1, tzinfo=UTC)).json_fields()
    assert cert["cert_id"] == "abc" and cert["expires_at"].startswith("2030-01-01")
    assert go_name("api_id") == "APIID" and go_name("host_info") == "HostInfo"


def test_envelope_has_tyk_and_legacy_names() -> None:
    msg = EventMessage(Event.AuthFailure, META_TYPES[Event.AuthFailure]("Auth Failure", key="k"), "api")
    data = msg.template_data()
    assert data["Type"] == data["EventType"] == "AuthFailure"
    assert data["Meta"]["Key"] == data["EventMetaData"]["Key"] == "k"
    assert msg.json_envelope()["Meta"]["Message"] == "Auth Failure"


def test_go_timestamp_format() -> None:
    text = go_timestamp(datetime(2026, 8, 21, 12, 39, 47, 123456, tzinfo=UTC))
    date, clock, offset, zone = text.split(" ")
    assert len(date) == 10 and clock.count(":") == 2 and offset[0] in "+-" and zone
