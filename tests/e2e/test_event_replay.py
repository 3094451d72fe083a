"""Accepted events kept and replayed, on both stores: events no handler wanted are listed (key redacted)
and replayed to a global webhook added later, each under a webhook-id fixed per (event, webhook), once
per request id; after a restart they are still there; bad input is a 400 naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_classic

LIMITER_KEY = "apilimiter-seed-classic"  # Tyk's API limiter identity: org "" and the api_id


async def test_events_no_handler_wanted_are_replayed_to_a_webhook_added_later(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, "http://127.0.0.1:9/unused", cooldown=0)
        api["event_handlers"] = {}  # nobody listens when they fire
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(4)]
            assert codes == [200, 200, 429, 429]
            await gw.idle()
            listed = (await gw.admin("GET", "/tyk/events?event=RatelimitExceeded")).json()
            assert listed["count"] == 2 and listed["next"] is None
            assert {e["api_id"] for e in listed["events"]} == {"seed-classic"}
            assert listed["events"][0]["meta"]["Key"] == "****" + LIMITER_KEY[-4:]
            assert LIMITER_KEY not in str(listed)
            assert (await gw.admin("GET", "/tyk/events?api_id=other")).json()["count"] == 0

            later = {"id": "later", "method": "POST", "target_path": f"{hook.url}/later"}
            assert (await gw.admin("POST", "/tyk/webhooks", json=later)).status_code == 200
            body = {"webhook_id": "later", "event": "RatelimitExceeded", "request_id": "replay-1"}
            first = (await gw.admin("POST", "/tyk/events/replay", json=body)).json()
            received = await recorder.wait_for(2)
            again = (await gw.admin("POST", "/tyk/events/replay", json=body)).json()
            await gw.idle()
            assert (first["status"], first["resent"], again["resent"]) == ("ok", 2, 0)

        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            assert (await gw.admin("GET", "/tyk/events")).json()["count"] == 2
            other = {"webhook_id": "later", "request_id": "replay-2", "limit": 1}
            one = (await gw.admin("POST", "/tyk/events/replay", json=other)).json()
            (third,) = (await recorder.wait_for(3))[2:]
            await gw.idle()
    assert {d.headers["webhook-id"] for d in received} == set(first["ids"])
    assert all(i.startswith("msg_replay_") for i in first["ids"])
    assert one["resent"] == 1 and one["next"] is not None
    assert third.headers["webhook-id"] == one["ids"][0] and one["ids"][0] in first["ids"]
    assert received[0].json()["event"] == "RatelimitExceeded"
    assert received[0].path == "/later"


async def test_bad_replay_input_is_refused_naming_the_field(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, http=False) as gw:
        bodies: list[Any] = [
            {},
            {"webhook_id": "nobody"},
            {"webhook_id": "x", "limit": 0},
            {"webhook_id": "x", "since": "soon"},
            {"webhook_id": "x", "status": "failed"},
            {"webhook_id": "x", "request_id": "has space"},
        ]
        answers = [await gw.admin("POST", "/tyk/events/replay", json=b) for b in bodies]
        listed = await gw.admin("GET", "/tyk/events?limit=5000")
    assert [a.status_code for a in answers] == [400] * len(bodies)
    assert [a.json()["message"].split(":")[0] for a in answers] == [
        "webhook_id",
        "webhook_id",
        "limit",
        "since",
        "status",
        "request_id",
    ]
    assert listed.status_code == 400 and listed.json()["message"].startswith("limit")
