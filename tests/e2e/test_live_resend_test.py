"""What the Dashboard is built on, end to end on both stores: the live feed sees a RatelimitExceeded fired by
a request, key redacted (and, with the Dashboard off, is never fed); a delivery of the log is resent with
the same webhook-id; a global webhook's test event reaches its receiver once and reports the answer; a
target the outbound policy refuses is reported as an error and never called."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

from gateway.handlers import global_webhooks
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.conftest import seed_classic

DASHBOARD = {"dashboard": {"enabled": True}}
LIMITER_KEY = "apilimiter-seed-classic"  # Tyk's API limiter identity: org "" and the api_id
NO_LOOPBACK = {"outbound": {"deny": ["169.254.0.0/16", "127.0.0.0/8", "::1"]}}


async def past_the_limit(gw: RunningGateway) -> list[int]:
    """The seed API allows 2 requests per 10 s: the third fires RatelimitExceeded."""
    return [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(3)]


async def test_the_live_feed_sees_an_event_a_request_fired_with_its_key_redacted(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    async with await serve(echo_app) as upstream:
        api = seed_classic(upstream.url, "http://127.0.0.1:9/hook", cooldown=0)
        api["event_handlers"] = {}  # no handler wants it: the feed notes it all the same
        async with run_gateway(tmp_path, apis=[api], config={**store_config, **DASHBOARD}) as gw:
            live = gw.gateway.live
            follower = live.follow()
            assert await past_the_limit(gw) == [200, 200, 429]
            seen = await asyncio.wait_for(anext(follower), 5)
            recent = live.recent()
    assert seen == recent[-1]
    assert (seen.event, seen.api_id, seen.message) == (
        "RatelimitExceeded",
        "seed-classic",
        "API Rate Limit Exceeded",
    )
    assert seen.key == "****" + LIMITER_KEY[-4:] and seen.meta["Key"] == seen.key
    assert seen.meta["Path"] == "/example-local-webhook/get"
    assert LIMITER_KEY not in json.dumps(dataclasses.asdict(seen))
    assert [e async for e in follower] == []  # the gateway stopped: the follower ended


async def test_with_the_dashboard_off_the_live_feed_is_never_fed(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        api = seed_classic(upstream.url, "http://127.0.0.1:9/hook", cooldown=0)
        api["event_handlers"] = {}
        # Retention 0: no event is kept either, so no meta is built for an event no handler wants.
        async with run_gateway(tmp_path, apis=[api], config={"events": {"retention": 0}}) as gw:
            assert await past_the_limit(gw) == [200, 200, 429]
            assert gw.gateway.live.recent() == []
            assert not gw.gateway.parts.bus.wants("seed-classic", "RatelimitExceeded")


async def test_a_delivery_is_resent_with_the_same_webhook_id(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            assert await past_the_limit(gw) == [200, 200, 429]
            (first,) = await recorder.wait_for(1)
            await gw.idle()
            (attempt,) = (await gw.admin("GET", "/tyk/webhooks/deliveries")).json()["deliveries"]
            delivery_id = attempt["webhook_id"]
            resent = await gw.admin("POST", f"/tyk/webhooks/deliveries/{delivery_id}/resend")
            assert (resent.status_code, resent.json()) == (200, {"status": "ok", "action": "resent"})
            _, second = await recorder.wait_for(2)
            await gw.idle()
            unknown = await gw.admin("POST", "/tyk/webhooks/deliveries/msg_nobody/resend")
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries")).json()["deliveries"]
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery_id
    assert second.body == first.body and second.headers["x-tyk"] == "example-local-webhook"
    assert unknown.status_code == 404 and unknown.json()["status"] == "error"
    assert "'msg_nobody'" in unknown.json()["message"]
    assert [(a["webhook_id"], a["attempt"], a["outcome"]) for a in log] == [
        (delivery_id, 1, "delivered"),
        (delivery_id, 1, "delivered"),
    ]


async def test_a_test_event_reaches_the_webhook_once_and_reports_its_answer(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder(script=[(503, {})])
    async with await serve(recorder) as hook:
        conf_hook = {"id": "ops", "method": "POST", "target_path": f"{hook.url}/ops", "event_timeout": 60}
        async with run_gateway(tmp_path, config={**store_config, "webhooks": [conf_hook]}, http=False) as gw:
            stored = {
                "id": "team",
                "method": "PUT",
                "target_path": f"{hook.url}/team",
                "header_map": {"X-T": "1"},
            }
            assert (await gw.admin("POST", "/tyk/webhooks", json=stored)).status_code == 200
            failing = (await gw.admin("POST", "/tyk/webhooks/ops/test")).json()
            answered = (await gw.admin("POST", "/tyk/webhooks/team/test")).json()
            again = (await gw.admin("POST", "/tyk/webhooks/ops/test")).json()  # no cooldown holds it back
            missing = await gw.admin("POST", "/tyk/webhooks/nobody/test")
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries")).json()
    assert (failing["status"], failing["error"]) == (503, "answered 503")
    assert (answered["status"], answered["error"]) == (200, None) and answered["latency_ms"] > 0
    assert (again["status"], again["error"]) == (200, None)
    assert [(d.method, d.path) for d in recorder.deliveries] == [
        ("POST", "/ops"),
        ("PUT", "/team"),
        ("POST", "/ops"),
    ]
    sample = recorder.deliveries[1]
    assert sample.json()["event"] == "RatelimitExceeded" and sample.headers["x-t"] == "1"
    assert sample.headers["webhook-id"].startswith("msg_")
    assert missing.status_code == 404 and missing.json() == {
        "status": "error",
        "message": "Webhook not found",
    }
    assert log["count"] == 0  # a test is not a delivery


async def test_a_target_the_outbound_policy_refuses_is_reported_and_never_called(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        named = {"id": "named", "method": "POST", "target_path": hook.url.replace("127.0.0.1", "localhost")}
        config = {**store_config, **NO_LOOPBACK, "webhooks": [named]}
        async with run_gateway(tmp_path, config=config, http=False) as gw:
            # Stored before the policy denied it (here: written to the store directly, as an older
            # gateway would have): its literal address is refused before any request is made.
            await global_webhooks.save(gw.gateway.store, {"id": "literal", "target_path": f"{hook.url}/x"})
            at_connect = (await gw.admin("POST", "/tyk/webhooks/named/test")).json()
            as_written = (await gw.admin("POST", "/tyk/webhooks/literal/test")).json()
    assert at_connect["status"] is None
    assert at_connect["error"].startswith(
        "OutboundRefused: refused by the outbound policy: 127.0.0.1 (from localhost)"
    )
    assert as_written["status"] is None and as_written["latency_ms"] == 0.0
    assert "outbound.deny" in as_written["error"] and "webhook 'literal'" in as_written["error"]
    assert recorder.deliveries == []


async def test_a_slow_live_follower_never_holds_back_requests_or_events(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config=DASHBOARD) as gw:
            slow = gw.gateway.live.follow()  # never read
            codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(40)]
            await recorder.wait_for(38)
            await eventually(lambda: len(gw.gateway.live.recent()) == 38, "every event noted")
            assert codes.count(429) == 38
            del slow
