"""X-Request-ID end to end: kept from the client or made, sent upstream, returned on every answer (a
proxied one, a rejection, an upstream failure), carried by the event's webhook and its log line."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gateway.log import JsonFormatter
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve, unused_port
from tests.e2e.conftest import seed_classic


def upstream_ids(echoed: dict[str, object]) -> list[str]:
    return [value for name, value in echoed["headers"] if name == "x-request-id"]  # type: ignore[attr-defined]


async def test_request_ids_reach_the_upstream_the_client_the_webhook_and_the_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url + "/", hook.url + "/webhook", cooldown=0)
        api["global_rate_limit"] = {"rate": 3, "per": 60}
        down = {
            "name": "down API",
            "api_id": "down",
            "use_keyless": True,
            "proxy": {"listen_path": "/down/", "target_url": f"http://127.0.0.1:{unused_port()}"},
        }
        async with run_gateway(tmp_path, apis=[api, down], config={"log_format": "json"}) as gw:
            given = await gw.client.get("/example-local-webhook/a", headers={"X-Request-ID": "client-id-1"})
            made = await gw.client.get("/example-local-webhook/b")
            replaced = await gw.client.get("/example-local-webhook/c", headers={"X-Request-ID": "bad id;x"})
            limited = await gw.client.get("/example-local-webhook/d", headers={"X-Request-ID": "trip-1"})
            failed = await gw.client.get("/down/x", headers={"X-Request-ID": "down-1"})
            (delivery,) = await recorder.wait_for(1)
            await gw.idle()

    assert [given.status_code, made.status_code, replaced.status_code] == [200, 200, 200]
    # The client's own id goes upstream once, as sent, and comes back.
    assert upstream_ids(given.json()) == ["client-id-1"]
    assert given.headers.get_list("x-request-id") == ["client-id-1"]
    # Without one, the gateway's id goes upstream and comes back.
    (ours,) = upstream_ids(made.json())
    assert made.headers["x-request-id"] == ours and len(ours) > 16
    # An unusable one is not forwarded: a fresh id takes its place, both ways.
    (fresh,) = upstream_ids(replaced.json())
    assert fresh not in ("bad id;x", ours) and replaced.headers["x-request-id"] == fresh
    # A rejection and an upstream failure carry it too; the event's webhook names the request.
    assert (limited.status_code, limited.headers["x-request-id"]) == (429, "trip-1")
    assert (failed.status_code, failed.headers["x-request-id"]) == (500, "down-1")
    assert delivery.headers["x-request-id"] == "trip-1"
    assert delivery.json()["event"] == "RatelimitExceeded"
    # The upstream failure's log line names the request; every line is one JSON object.
    lines = [JsonFormatter().format(r) for r in caplog.records]
    parsed = [json.loads(line) for line in lines]
    assert all("\n" not in line for line in lines)
    (failure,) = [p for p in parsed if p.get("request_id") == "down-1"]
    assert failure["api_id"] == "down" and failure["level"] == "warning"
    assert failure["target"].startswith("127.0.0.1:") and failure["logger"] == "gateway.proxy"


async def test_the_event_meta_carries_the_request_id_for_templates(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        template = tmp_path / "templates" / "rid.json"
        template.parent.mkdir()
        template.write_text('{"rid": "{{.Meta.RequestID}}", "path": "{{.Meta.Path}}"}')
        api = seed_classic("http://127.0.0.1:1/", hook.url + "/w", cooldown=0)
        api["global_rate_limit"] = {"rate": 1, "per": 60}
        meta = api["event_handlers"]["events"]["RatelimitExceeded"][0]["handler_meta"]
        meta["template_path"] = str(template)
        meta["header_map"]["X-Request-ID"] = "fixed"  # a header_map naming it wins
        async with run_gateway(tmp_path, apis=[api]) as gw:
            await gw.client.get("/example-local-webhook/a")
            await gw.client.get("/example-local-webhook/b", headers={"X-Request-ID": "tmpl-7"})
            (delivery,) = await recorder.wait_for(1)
    assert delivery.json() == {"rid": "tmpl-7", "path": "/example-local-webhook/b"}
    assert delivery.headers["x-request-id"] == "fixed"
