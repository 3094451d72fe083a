"""Reliable delivery through the real gateway, on both stores: a target failing twice then answering
gets three attempts under one webhook-id; a 410 target gets one; signed webhooks verify with the
reference `standardwebhooks` library; the delivery log shows attempts without the raw key; payload
keys are redacted on request; a bad retry setting skips only that handler."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from standardwebhooks import Webhook

from gateway.delivery import signing
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_classic
from tests.e2e.test_keys import keyed_api, session

# Tiny backoff so that retries happen within the test's bounded waits.
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.02}


def api_with_meta(upstream: str, hook: str, **meta: Any) -> dict[str, Any]:
    """The keyed API whose RatelimitExceeded webhook carries extra handler meta."""
    spec = keyed_api(upstream, hook)
    spec["event_handlers"]["events"]["RatelimitExceeded"][0]["handler_meta"].update(meta)
    return spec


async def trip(gw: Any, **fields: Any) -> str:
    """Make a key with a rate of 1 per minute and send two requests: one RatelimitExceeded."""
    key: str = (await gw.admin("POST", "/tyk/keys", json=session(rate=1, per=60, **fields))).json()["key"]
    codes = [(await gw.client.get("/keyed/x", headers={"Authorization": key})).status_code for _ in range(2)]
    assert codes == [200, 429]
    return key


async def test_retries_until_delivered_under_one_webhook_id(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder(script=[(500, {}), (503, {})])
    config = {**store_config, "events": FAST}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api_with_meta(upstream.url, hook.url)], config=config) as gw:
            key = await trip(gw)
            received = await recorder.wait_for(3)
            await gw.idle()
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries?api_id=keyed")).json()

            async def count(query: str) -> int:
                answer = await gw.admin("GET", "/tyk/webhooks/deliveries?" + query)
                assert answer.status_code == 200, answer.text
                return int(answer.json()["count"])

            first, last = log["deliveries"][-1]["time"], log["deliveries"][0]["time"]
            filtered = {
                "status=retrying": await count("status=retrying"),
                "status=delivered": await count("status=delivered"),
                "event=RatelimitExceeded": await count("event=RatelimitExceeded"),
                "event=QuotaExceeded": await count("event=QuotaExceeded"),
                "since=last": await count(f"since={last}"),
                "until=last": await count(f"until={last}"),
                "RFC 3339 window": await count(
                    "since="
                    + quote(datetime.fromtimestamp(first - 1, UTC).isoformat())
                    + "&until="
                    + quote(datetime.fromtimestamp(last + 1, UTC).isoformat())
                ),
            }
            bad = [
                (await gw.admin("GET", "/tyk/webhooks/deliveries?" + q)).json()
                for q in ("status=lost", "since=yesterday", "until=2026-12-05T10:00:00")
            ]
    assert filtered == {
        "status=retrying": 2,
        "status=delivered": 1,
        "event=RatelimitExceeded": 3,
        "event=QuotaExceeded": 0,
        "since=last": 1,
        "until=last": 2,
        "RFC 3339 window": 3,
    }
    assert [b["message"].split(":")[0] for b in bad] == ["status", "since", "until"]
    assert len(received) == 3 and len(recorder.deliveries) == 3
    assert len({d.headers["webhook-id"] for d in received}) == 1
    assert received[-1].json()["key"] == key  # Tyk's payload keeps the raw key by default
    attempts = log["deliveries"]
    assert [(a["attempt"], a["status"], a["outcome"]) for a in attempts] == [
        (3, 200, "delivered"),
        (2, 503, "retrying"),
        (1, 500, "retrying"),
    ]
    assert key not in json.dumps(log)


async def test_gone_target_gets_one_attempt(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder(status=410)
    config = {**store_config, "events": FAST}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api_with_meta(upstream.url, hook.url)], config=config) as gw:
            await trip(gw)
            await recorder.wait_for(1)
            await gw.idle()
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries")).json()["deliveries"]
            stats = (await gw.admin("GET", "/tyk/events/stats")).json()["webhooks"]
    assert len(recorder.deliveries) == 1
    assert [(a["status"], a["outcome"]) for a in log] == [(410, "gone")]
    assert stats == {"deduplicated": 0, "outbox_unavailable": 0, "delivered": 0, "given_up": 0, "gone": 1}


async def test_signed_webhooks_verify_and_keys_can_be_redacted(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    secret = signing.generate()
    recorder = WebhookRecorder()
    spec_meta = {"signing_secrets": [secret], "redact_keys": True}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, **spec_meta)]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            key = await trip(gw)
            (received,) = await recorder.wait_for(1)
            await gw.idle()
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["event"] == "RatelimitExceeded"
    assert payload["key"] != key and payload["key"].endswith(key[-4:])
    assert key not in received.body.decode()


async def test_bad_retry_setting_skips_only_that_handler(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, retry={"max_attempts": 0})]
        async with run_gateway(tmp_path, apis=apis) as gw:
            await trip(gw)  # the API serves and limits as before
            unknown = await gw.client.get("/keyed/x", headers={"Authorization": "nope-key"})
            assert unknown.status_code == 403
            (received,) = await recorder.wait_for(1)  # AuthFailure's handler still runs
            await gw.idle()
    assert received.path.endswith("/AuthFailure")


async def test_event_stats_count_fired_deduplicated_and_delivered(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [seed_classic(upstream.url, hook.url, cooldown=30)]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(5)]
            await recorder.wait_for(1)
            await gw.idle()
            stats = (await gw.admin("GET", "/tyk/events/stats")).json()
    assert codes == [200, 200, 429, 429, 429]
    assert len(recorder.deliveries) == 1  # three identical events inside the cooldown: one webhook
    assert stats == {
        "fired": 3,
        "dropped": 0,
        "handled": 3,
        "failed": 0,
        "webhooks": {"deduplicated": 2, "outbox_unavailable": 0, "delivered": 1, "given_up": 0, "gone": 0},
    }
