"""The CloudEvents 1.0 envelope and the digest's additions, as pure functions: the attributes a
structured-mode receiver needs, `id` the webhook-id, and a digest said in the body where it can be."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from gateway.delivery import envelope

WHEN = datetime(2026, 12, 5, 10, 0, 0, 123456, tzinfo=UTC)


def test_structured_mode_envelope() -> None:
    data = envelope.event_data("RatelimitExceeded", "keyed", "org1", {"key": "k", "path": "/x"})
    body = json.loads(envelope.cloudevent("RatelimitExceeded", "keyed", "msg_1", WHEN, data))
    assert body == {
        "specversion": "1.0",
        "type": "io.tyk.gateway.RatelimitExceeded",
        "source": "/tyk/apis/keyed",
        "id": "msg_1",
        "time": "2026-12-05T10:00:00.123456Z",
        "datacontenttype": "application/json",
        "data": {"type": "RatelimitExceeded", "api_id": "keyed", "org_id": "org1", "meta": data["meta"]},
    }


def test_gateway_level_source_and_text_data() -> None:
    body = json.loads(envelope.cloudevent("TokenCreated", "", "msg_2", WHEN, envelope.template_data("hi")))
    assert (body["source"], body["datacontenttype"], body["data"]) == ("/tyk/gateway", "text/plain", "hi")
    assert envelope.template_data('{"a": 1}') == {"a": 1}


def test_digest_in_a_json_body_and_in_an_envelope() -> None:
    plain = json.loads(envelope.with_digest(b'{"event": "X"}', False, "msg_9", 4, 0.0, 1.5))
    assert plain == {
        "event": "X",
        "suppressed_count": 4,
        "first_suppressed": "1970-01-01T00:00:00Z",
        "last_suppressed": "1970-01-01T00:00:01.500000Z",
    }
    event = envelope.cloudevent("X", "a", "msg_old", WHEN, {})
    wrapped = json.loads(envelope.with_digest(event, True, "msg_new", 4, 0.0, 1.5))
    assert wrapped["id"] == "msg_new" and wrapped["suppressedcount"] == 4
    assert wrapped["firstsuppressed"] == "1970-01-01T00:00:00Z" and "suppressed_count" not in wrapped


def test_a_body_that_is_no_json_object_is_left_alone() -> None:
    assert envelope.with_digest(b"plain text", False, "m", 2, 0.0, 1.0) == b"plain text"
    assert envelope.with_digest(b"[1, 2]", False, "m", 2, 0.0, 1.0) == b"[1, 2]"
