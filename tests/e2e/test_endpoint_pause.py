"""Endpoints that pause themselves, through the real gateway on both stores: a receiver that fails then
recovers is paused (WebhookEndpointPaused to a tyk.conf webhook, `paused` on /tyk/webhooks/endpoints),
resumed by a probe (WebhookEndpointResumed), and every delivery is delivered; a slow receiver held to
`target_concurrency` delays no other target; a 410 receiver fires WebhookDeliveryFailed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from gateway.testing.harness import RunningGateway, eventually
from gateway.testing.servers import StallingApp
from tests.e2e.test_keys import keyed_api

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.02, "retry_max_attempts": 10}
ENDPOINT = (
    '{"type": "{{.Type}}", "message": "{{.Meta.Message}}", "target": "{{.Meta.Target}}", '
    '"reason": "{{.Meta.Reason}}"}'
)
FAILED = (
    '{"type": "{{.Type}}", "message": "{{.Meta.Message}}", "webhook_id": "{{.Meta.WebhookID}}", '
    '"target": "{{.Meta.Target}}", "attempts": {{.Meta.Attempts}}, "last_error": "{{.Meta.LastError}}", '
    '"event": "{{.Meta.Event}}", "api_id": "{{.Meta.APIID}}"}'
)


def watching(tmp_path: Path, watcher: str) -> dict[str, Any]:
    """tyk.conf `event_handlers`: the gateway's delivery events, each sent to `<watcher>/<event>`."""
    folder = tmp_path / "templates"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "endpoint.json").write_text(ENDPOINT)
    (folder / "failed.json").write_text(FAILED)
    templates = {
        "WebhookEndpointPaused": "endpoint.json",
        "WebhookEndpointResumed": "endpoint.json",
        "WebhookDeliveryFailed": "failed.json",
    }
    return {
        "events": {
            event: [
                {
                    "handler_name": "eh_web_hook_handler",
                    "handler_meta": {
                        "method": "POST",
                        "target_path": f"{watcher}/{event}",
                        "template_path": str(folder / name),
                        "event_timeout": 0,
                    },
                }
            ]
            for event, name in templates.items()
        }
    }


async def fail_auth(gw: RunningGateway, times: int = 1) -> None:
    """Requests with an unknown key: an AuthFailure (one webhook delivery per handler) each."""
    for _ in range(times):
        answer = await gw.client.get("/keyed/x", headers={"Authorization": "no-such-key"})
        assert answer.status_code == 403


async def test_a_failing_receiver_is_paused_probed_and_resumed_and_nothing_is_lost(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    receiver, watcher = WebhookRecorder(script=[(500, {})] * 5), WebhookRecorder()
    pause = {"failures": 3, "window": 60, "probe_interval": 0.2}
    async with await serve(echo_app) as upstream, await serve(receiver) as hook, await serve(watcher) as w:
        config = {
            **store_config,
            "events": {**FAST, "endpoint_pause": pause},
            "event_handlers": watching(tmp_path, w.url),
        }
        async with run_gateway(tmp_path, apis=[keyed_api(upstream.url, hook.url)], config=config) as gw:
            await fail_auth(gw)
            (paused,) = await watcher.wait_for(1)
            listed = (await gw.admin("GET", "/tyk/webhooks/endpoints?state=paused")).json()
            await fail_auth(gw, 2)  # these wait for the target, not lost and not given up
            await watcher.wait_for(2)
            await gw.idle()
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries?api_id=keyed")).json()["deliveries"]
            after = (await gw.admin("GET", "/tyk/webhooks/endpoints")).json()
            stats = (await gw.admin("GET", "/tyk/events/stats")).json()["webhooks"]
            bad = await gw.admin("GET", "/tyk/webhooks/endpoints?state=sleepy")
    target = hook.url  # scheme://host:port: what the budget is kept per
    assert paused.path == "/WebhookEndpointPaused"
    assert paused.json() == {
        "type": "WebhookEndpointPaused",
        "message": "Webhook endpoint paused",
        "target": target,
        "reason": "3 failed attempts in a row: answered 500",
    }
    assert listed["count"] == 1
    (entry,) = listed["endpoints"]
    assert (entry["target"], entry["state"], entry["consecutive_failures"]) == (target, "paused", 3)
    assert entry["paused_since"] > 0 and entry["reason"] == paused.json()["reason"]
    resumed = watcher.deliveries[1]
    assert resumed.path == "/WebhookEndpointResumed"
    assert resumed.json()["reason"] == "probe delivered"
    assert [d.path for d in watcher.deliveries] == ["/WebhookEndpointPaused", "/WebhookEndpointResumed"]
    delivered = {a["webhook_id"] for a in log if a["outcome"] == "delivered"}
    assert len(delivered) == 3 and {a["webhook_id"] for a in log} == delivered  # none given up
    assert len(receiver.deliveries) == 5 + 3
    assert stats["delivered"] == 3 + 2 and stats["given_up"] == 0  # and the watcher's two
    states = {e["target"]: e["state"] for e in after["endpoints"]}
    assert states[target] == "active"
    assert bad.status_code == 400 and bad.json()["message"].startswith("state:")


async def test_a_slow_receiver_held_to_its_cap_does_not_delay_another_target(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    slow, fast = StallingApp(), WebhookRecorder()
    async with (
        await serve(echo_app) as upstream,
        await serve(slow) as slow_hook,
        await serve(fast) as fast_hook,
    ):
        api = keyed_api(upstream.url, slow_hook.url)
        hooks = api["event_handlers"]["events"]["AuthFailure"]
        hooks.append({**hooks[0], "handler_meta": {**hooks[0]["handler_meta"], "target_path": fast_hook.url}})
        # Three attempts on the wire in all: without its cap of two, the slow target would take them all.
        config = {**store_config, "events": {**FAST, "delivery_concurrency": 3, "target_concurrency": 2}}
        async with run_gateway(tmp_path, apis=[api], config=config) as gw:
            try:
                await fail_auth(gw, 4)
                await fast.wait_for(4)
                await eventually(lambda: slow.arrived == 2, "two attempts on the slow receiver")
                held: dict[str, Any] = {}

                async def held_to_its_cap() -> bool:
                    endpoints = (await gw.admin("GET", "/tyk/webhooks/endpoints")).json()["endpoints"]
                    held.update({e["target"]: e for e in endpoints}.get(slow_hook.url, {}))
                    return held.get("waiting") == 2  # the other two taken from the outbox, waiting

                await eventually(held_to_its_cap, "two deliveries waiting for the slow receiver")
            finally:
                slow.release()
            await gw.idle()
    assert (held["in_flight"], held["waiting"], held["concurrency"]) == (2, 2, 2)
    assert slow.arrived == 4 and len(fast.deliveries) == 4


async def test_a_gone_receiver_fires_webhook_delivery_failed_after_one_attempt(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    receiver, watcher = WebhookRecorder(status=410), WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(receiver) as hook, await serve(watcher) as w:
        config = {**store_config, "events": FAST, "event_handlers": watching(tmp_path, w.url)}
        async with run_gateway(tmp_path, apis=[keyed_api(upstream.url, hook.url)], config=config) as gw:
            await fail_auth(gw)
            (failed,) = await watcher.wait_for(1)
            await gw.idle()
    (sent,) = receiver.deliveries
    assert failed.path == "/WebhookDeliveryFailed"
    assert failed.json() == {
        "type": "WebhookDeliveryFailed",
        "message": "Webhook delivery failed",
        "webhook_id": sent.headers["webhook-id"],
        "target": f"POST {hook.url}/AuthFailure",
        "attempts": 1,
        "last_error": "answered 410",
        "event": "AuthFailure",
        "api_id": "keyed",
    }
    assert len(watcher.deliveries) == 1  # once idle: nothing else was fired
