"""The event catalog end to end, on both stores: what a real gateway delivers (default template and
CloudEvents) validates against the schemas it serves, and the suite's catalog check recognises it; the
AsyncAPI document carries tyk.conf's retry policy; a template previews against a sample of every event,
and bad previews answer 400 naming the field and the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from gateway import __version__
from gateway.events.catalog import Event
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from gateway.testing.recorder import Tap
from tests.catalog_check import CatalogCheck
from tests.e2e.test_keys import keyed_api, session

RETRY = {"retry_max_attempts": 7, "retry_max_elapsed": 120.0}


def validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schema, validate_formats=True)


async def test_delivered_bodies_fit_the_catalog_the_gateway_serves(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = keyed_api(upstream.url, hook.url)
        cloud = {
            "method": "POST",
            "target_path": f"{hook.url}/ce",
            "event_timeout": 0,
            "envelope": "cloudevents",
        }
        api["event_handlers"]["events"]["AuthFailure"].append(
            {"handler_name": "eh_web_hook_handler", "handler_meta": cloud}
        )
        token = {
            "handler_name": "eh_web_hook_handler",
            "handler_meta": {"method": "POST", "target_path": hook.url},
        }
        config = {**store_config, "events": RETRY, "event_handlers": {"events": {"TokenCreated": [token]}}}
        with Tap() as tap:
            async with run_gateway(tmp_path, apis=[api], config=config) as gw:
                assert (await gw.admin("POST", "/tyk/keys/create", json=session())).status_code == 200
                assert (
                    await gw.client.get("/keyed/x", headers={"Authorization": "nope-key"})
                ).status_code == 403
                await recorder.wait_for(3)
                answer = await gw.admin("GET", "/tyk/events/catalog")
                document = (await gw.admin("GET", "/tyk/events/asyncapi.json")).json()
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    served = answer.json()
    assert set(served["events"]) == {str(e) for e in Event} and served["gateway_version"] == __version__
    kinds = []
    for delivery in recorder.deliveries:
        body = delivery.json()
        if "specversion" in body:
            schema = served["events"][body["type"].removeprefix("io.tyk.gateway.")]["cloudevents"]
            kinds.append(("cloudevents", body["data"]["type"]))
        else:
            schema = served["events"][body["event"]]["webhook_body"]
            kinds.append(("default", body["event"]))
        errors = [e.message for e in validator(schema).iter_errors(body)]
        assert errors == [], (body, errors)
    assert sorted(kinds) == [
        ("cloudevents", "AuthFailure"),
        ("default", "AuthFailure"),
        ("default", "TokenCreated"),
    ]
    # The suite's check (tests/e2e/conftest.py) sees these through the tap and judges every one of them.
    assert tap.seen == 3
    check = CatalogCheck()
    assert [p for d in tap.deliveries for p in check.check(d)] == []
    assert check.validated == {"AuthFailure": 2, "TokenCreated": 1} and check.skipped == 0
    assert document["info"]["version"] == __version__
    policy = document["components"]["operationTraits"]["webhook"]["x-retry-policy"]
    assert (policy["max_attempts"], policy["max_elapsed"]) == (7, 120.0)


@pytest.fixture
async def gateway(tmp_path: Path) -> Any:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "mine.json").write_text('{"who": "{{.Meta.Key}}", "type": "{{.Type}}"}')
    (tmp_path / "outside.json").write_text('{"secret": true}')
    async with run_gateway(tmp_path) as gw:
        yield gw


async def test_a_template_previews_against_a_sample_of_every_event(gateway: Any) -> None:
    catalog = (await gateway.admin("GET", "/tyk/events/catalog")).json()["events"]
    for event in Event:
        answer = await gateway.admin(
            "POST", "/tyk/templates/preview", json={"event": event, "template_path": ""}
        )
        assert answer.status_code == 400  # an empty path names no file
        answer = await gateway.admin(
            "POST", "/tyk/templates/preview", json={"event": event, "template_path": "default_webhook.json"}
        )
        assert answer.status_code == 200, answer.text
        preview = answer.json()
        assert preview["content_type"] == "application/json" and preview["event"] == event
        body = json.loads(preview["body"])
        assert list(validator(catalog[event]["webhook_body"]).iter_errors(body)) == []
    mine = await gateway.admin(
        "POST",
        "/tyk/templates/preview",
        json={"event": "AuthFailure", "template_path": "mine.json", "meta": {"Key": "k-1"}},
    )
    assert json.loads(mine.json()["body"]) == {"who": "k-1", "type": "AuthFailure"}
    assert mine.json()["meta"]["Key"] == "k-1"
    text = await gateway.admin(
        "POST",
        "/tyk/templates/preview",
        json={"event": "HostDown", "template": "down: {{.Meta.HostInfo.CheckURL}}", "json_escape": False},
    )
    assert (
        text.json()["body"] == "down: http://upstream.example/health" and text.json()["content_type"] is None
    )


@pytest.mark.parametrize(
    ("request_body", "message"),
    [
        ({"event": "Nope", "template": "x"}, "event: 'Nope' is not an event of the catalog"),
        ({"event": "AuthFailure", "template": "{{.Meta.Key"}, "template: template syntax error at line 1"),
        (
            {"event": "AuthFailure", "template_path": "../outside.json"},
            "\"template_path\": '../outside.json' is outside",
        ),
        (
            {"event": "AuthFailure", "template_path": "/etc/hostname"},
            "\"template_path\": '/etc/hostname' is outside",
        ),
        (
            {"event": "AuthFailure", "template_path": "none.json"},
            "\"template_path\": file not found: 'none.json'",
        ),
        ({"event": "AuthFailure"}, "template: give exactly one of template"),
        (
            {"event": "AuthFailure", "template": "x", "meta": {"Nope": 1}},
            "meta.Nope: AuthFailure has no such field",
        ),
        ({"event": "AuthFailure", "template": "x", "meta": {"Key": 1}}, "meta.Key: expected str, got 1"),
        ({"event": "AuthFailure", "template": "x", "meta": []}, "meta: expected an object"),
        (
            {"event": "AuthFailure", "template": "x", "json_escape": "yes"},
            "json_escape: expected true or false, got 'yes'",
        ),
    ],
)
async def test_a_bad_preview_is_400_naming_the_field(
    gateway: Any, request_body: dict[str, Any], message: str
) -> None:
    answer = await gateway.admin("POST", "/tyk/templates/preview", json=request_body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["status"] == "error" and message in answer.json()["message"], answer.text
