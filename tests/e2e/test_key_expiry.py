"""KeyExpiringSoon end to end, on both stores: keys made through the REST API, the background scan, a
tyk.conf webhook. Each key within a threshold fires once (the smallest threshold crossed, the key
redacted), a key beyond every threshold none, later scans nothing more, and two gateways on one Redis
fire once in total."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.test_limits import api, session

DAY = 86_400
TEMPLATE = (
    '{"type": "{{.Type}}", "message": "{{.Meta.Message}}", "key": "{{.Meta.Key}}", '
    '"days": {{.Meta.DaysRemaining}}, "expires_at": "{{.Meta.ExpiresAt | as_rfc3339}}", '
    '"org": "{{.Meta.OrgID}}"}'
)


def expiry_config(tmp_path: Path, hook: str) -> dict[str, Any]:
    (tmp_path / "templates").mkdir(parents=True, exist_ok=True)
    template = tmp_path / "templates" / "expiring.json"
    template.write_text(TEMPLATE)
    meta = {"method": "POST", "target_path": hook, "template_path": str(template), "event_timeout": 0}
    return {
        "events": {"key_expiry_warning_days": [7, 1], "key_expiry_scan_interval": 0.2},
        "event_handlers": {
            "events": {"KeyExpiringSoon": [{"handler_name": "eh_web_hook_handler", "handler_meta": meta}]}
        },
    }


async def make_keys(gw: RunningGateway) -> dict[str, str]:
    """Keys expiring in 3 days (and an hour, so that the whole days left are 3), 12 hours, 30 days."""
    now = int(time.time())
    keys = {}
    for name, expires in (
        ("three", now + 3 * DAY + 3600),
        ("half", now + DAY // 2),
        ("month", now + 30 * DAY),
    ):
        made = await gw.admin("POST", "/tyk/keys", json=session(expires=expires))
        assert made.status_code == 200, made.text
        keys[name] = made.json()["key"]
    return keys


async def scans_pass(*gws: RunningGateway, rounds: int = 2) -> None:
    """Wait until each gateway's scanner has gone round `rounds` more times, then for its webhooks."""
    scanners = [gw.gateway.parts.key_expiry for gw in gws]
    targets = [s.rounds + rounds for s in scanners]
    await eventually(lambda: all(s.rounds >= t for s, t in zip(scanners, targets, strict=True)), "scans")
    for gw in gws:
        await gw.idle()


def check(recorder: WebhookRecorder, keys: dict[str, str]) -> None:
    got = sorted((d.json() for d in recorder.deliveries), key=lambda body: body["days"])
    assert [(b["key"], b["days"], b["message"]) for b in got] == [
        ("****" + keys["half"][-4:], 0, "Key expiring within 1 day"),
        ("****" + keys["three"][-4:], 3, "Key expiring within 7 days"),
    ]
    assert {(b["type"], b["org"]) for b in got} == {("KeyExpiringSoon", "org1")}
    for delivery in recorder.deliveries:
        assert not any(key in delivery.body.decode() for key in keys.values())  # never the raw key


async def test_keys_within_a_threshold_fire_once(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **expiry_config(tmp_path, hook.url + "/expiring")}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url)], config=config) as gw:
            keys = await make_keys(gw)
            await eventually(lambda: len(recorder.deliveries) >= 2, "two notices")
            await scans_pass(gw)
            check(recorder, keys)


async def test_two_gateways_on_one_redis_fire_once_in_total(tmp_path: Path, redis_flush: Any) -> None:
    recorder = WebhookRecorder()
    storage = {"storage": {"type": "redis", "host": redis_flush.host, "port": redis_flush.port}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        a, b = ({**storage, **expiry_config(tmp_path / n, hook.url + "/expiring")} for n in "ab")
        spec = api(upstream.url, hook.url)
        async with run_gateway(tmp_path / "a", apis=[spec], config=a) as one:
            async with run_gateway(tmp_path / "b", apis=[spec], config=b) as two:
                keys = await make_keys(two)
                await eventually(lambda: len(recorder.deliveries) >= 2, "two notices")
                await scans_pass(one, two, rounds=3)
    check(recorder, keys)


async def test_with_hashed_keys_the_hash_is_what_is_redacted(tmp_path: Path) -> None:
    """With `hash_keys` the store holds no raw key: the notice names the key's hash, redacted."""
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {"hash_keys": True, **expiry_config(tmp_path, hook.url + "/expiring")}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url)], config=config) as gw:
            expires = int(time.time()) + DAY // 2
            made = (await gw.admin("POST", "/tyk/keys", json=session(expires=expires))).json()
            await eventually(lambda: len(recorder.deliveries) >= 1, "the notice")
            await scans_pass(gw)
    assert [d.json()["key"] for d in recorder.deliveries] == ["****" + made["key_hash"][-4:]]
    assert made["key"] not in recorder.deliveries[0].body.decode()
