"""The quota trigger monitor end to end, on both stores: tyk.conf `monitor` with a real webhook receiver.

Each threshold fires once per quota period per key (Tyk fires on every request past it); session
`monitor.trigger_limits` and the global limit (a number or a list) both count; org quotas too; Classic
and OAS APIs alike; two gateways on one Redis send one webhook per threshold; off means no event.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.test_limits import api, get, session


def monitor(hook: str, **fields: Any) -> dict[str, Any]:
    settings = {
        "enable_trigger_monitors": True,
        "monitor_user_keys": True,
        "configuration": {"method": "POST", "target_path": f"{hook}/monitor", "event_timeout": 0},
        **fields,
    }
    return {"monitor": settings}


def oas_api(upstream: str) -> dict[str, Any]:
    """The same keyed API as an OAS document (auth token in the Authorization header)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "lim", "version": "1"},
        "paths": {},
        "security": [{"key": []}],
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "Authorization"}}
        },
        "x-tyk-api-gateway": {
            "info": {"id": "lim", "orgId": "org1", "name": "lim", "state": {"active": True}},
            "server": {
                "listenPath": {"value": "/lim/", "strip": True},
                "authentication": {"enabled": True, "securitySchemes": {"key": {"enabled": True}}},
            },
            "upstream": {"url": upstream},
        },
    }


def triggers(recorder: WebhookRecorder) -> list[dict[str, Any]]:
    return [d.json() for d in recorder.deliveries if d.path == "/hook/monitor"]


async def spend(gw: RunningGateway, key: str, n: int) -> list[int]:
    return [(await get(gw, key))[0] for _ in range(n)]


@pytest.mark.parametrize("kind", ["classic", "oas"])
async def test_each_user_threshold_fires_once(
    tmp_path: Path, store_config: dict[str, Any], kind: str
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = api(upstream.url, hook.url + "/hook") if kind == "classic" else oas_api(upstream.url)
        config = {**store_config, **monitor(hook.url + "/hook")}
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            fields = {"quota_max": 10, "quota_renewal_rate": 3600, "monitor": {"trigger_limits": [80, 50]}}
            key = (await gw.admin("POST", "/tyk/keys", json=session(**fields))).json()["key"]
            assert await spend(gw, key, 4) == [200] * 4
            await gw.idle()
            assert triggers(recorder) == []  # 40 %: nothing yet
            assert await spend(gw, key, 8) == [200] * 6 + [403] * 2
            await gw.idle()
    common = {"event": "TriggerExceeded", "message": "Quota trigger reached", "org": "org1", "key": key}
    # Deliveries run concurrently: their arrival order is not the order they fired in.
    got = sorted(triggers(recorder), key=lambda t: str(t["trigger_limit"]))
    assert got == [{**common, "trigger_limit": "50"}, {**common, "trigger_limit": "80"}]


async def test_a_quota_reset_lets_each_threshold_fire_again(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **monitor(hook.url + "/hook")}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            fields = {"quota_max": 4, "quota_renewal_rate": 3600, "monitor": {"trigger_limits": [50]}}
            body = session(**fields)
            key = (await gw.admin("POST", "/tyk/keys", json=body)).json()["key"]
            assert await spend(gw, key, 3) == [200] * 3
            await gw.idle()
            assert len(triggers(recorder)) == 1
            # Tyk's reset: the key written again with ?reset_quota=1 starts a new period.
            reset = await gw.admin("PUT", f"/tyk/keys/{key}?reset_quota=1", json=body)
            assert reset.status_code == 200
            assert await spend(gw, key, 3) == [200] * 3
            await gw.idle()
    assert [t["trigger_limit"] for t in triggers(recorder)] == ["50", "50"]


async def test_global_limits_and_api_handlers(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = api(upstream.url, hook.url + "/hook")
        # Beyond Tyk: an API's own handler for TriggerExceeded hears the monitor too.
        spec["event_handlers"]["events"]["TriggerExceeded"] = [
            {
                "handler_name": "eh_web_hook_handler",
                "handler_meta": {"method": "POST", "target_path": f"{hook.url}/hook/api", "event_timeout": 0},
            }
        ]
        config = {**store_config, **monitor(hook.url + "/hook", global_trigger_limit=[25, 75])}
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            key = (
                await gw.admin("POST", "/tyk/keys", json=session(quota_max=4, quota_renewal_rate=60))
            ).json()["key"]
            assert await spend(gw, key, 4) == [200] * 4
            await gw.idle()
    assert [t["trigger_limit"] for t in triggers(recorder)] == ["25", "75"]
    assert len([d for d in recorder.deliveries if d.path == "/hook/api"]) == 2


async def test_org_threshold_fires_once_without_a_key(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = api(upstream.url, hook.url + "/hook", keyed=False)
        settings = monitor(hook.url + "/hook", monitor_user_keys=False, monitor_org_keys=True)
        config = {**store_config, **settings, "enforce_org_quotas": True}
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            org = {"quota_max": 4, "quota_renewal_rate": 60, "monitor": {"trigger_limits": [50]}}
            assert (await gw.admin("POST", "/tyk/org/keys/org1", json=org)).status_code == 200
            assert await spend(gw, "", 4) == [200] * 4
            await gw.idle()
    (only,) = triggers(recorder)
    assert (only["org"], only["key"], only["trigger_limit"]) == ("org1", "", "50")


async def test_two_gateways_on_one_redis_send_one_webhook_per_threshold(
    tmp_path: Path, redis_flush: Any
) -> None:
    recorder = WebhookRecorder()
    storage = {"storage": {"type": "redis", "host": redis_flush.host, "port": redis_flush.port}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = api(upstream.url, hook.url + "/hook")
        config = {**storage, **monitor(hook.url + "/hook", global_trigger_limit=50)}
        async with run_gateway(tmp_path / "a", apis=[spec], config=config) as one:
            async with run_gateway(tmp_path / "b", apis=[spec], config=config) as two:
                fields = {"quota_max": 8, "quota_renewal_rate": 60, "monitor": {"trigger_limits": [75]}}
                key = (await one.admin("POST", "/tyk/keys", json=session(**fields))).json()["key"]
                for _ in range(4):  # alternate: each threshold is crossed on one and passed on the other
                    assert await spend(one, key, 1) + await spend(two, key, 1) == [200, 200]
                await one.idle()
                await two.idle()
    assert sorted(t["trigger_limit"] for t in triggers(recorder)) == ["50", "75"]


async def test_monitor_off_fires_nothing(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = monitor(hook.url + "/hook", enable_trigger_monitors=False, global_trigger_limit=10)
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            key = (
                await gw.admin("POST", "/tyk/keys", json=session(quota_max=2, quota_renewal_rate=60))
            ).json()["key"]
            assert await spend(gw, key, 2) == [200, 200]
            await gw.idle()
            assert gw.gateway.parts.services.trigger_monitor is None
    assert triggers(recorder) == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"global_trigger_limit": 150}, "monitor.global_trigger_limit"),
        ({"global_trigger_limit": [50, "x"]}, r"monitor.global_trigger_limit\[1\]"),
        ({"configuration": {"target_path": "not a url"}}, "monitor.configuration"),
    ],
)
async def test_bad_monitor_settings_stop_the_start(
    tmp_path: Path, fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        async with run_gateway(tmp_path, config=monitor("http://127.0.0.1:9", **fields), http=False):
            pass


async def test_bad_session_trigger_limits_are_refused(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, http=False) as gw:
        bad = await gw.admin(
            "POST", "/tyk/keys", json=session(quota_max=5, monitor={"trigger_limits": [120]})
        )
    assert bad.status_code == 400


async def test_a_policys_quota_fires_the_global_thresholds(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """The monitor watches the quota a key takes from its policy, as it watches a key's own."""
    recorder = WebhookRecorder()
    (tmp_path / "policies").mkdir()
    rights = {"lim": {"api_id": "lim", "api_name": "lim", "versions": ["Default"]}}
    policy = {
        "id": "ten",
        "org_id": "org1",
        "quota_max": 10,
        "quota_renewal_rate": 3600,
        "access_rights": rights,
    }
    (tmp_path / "policies" / "ten.json").write_text(json.dumps(policy))
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {
            **store_config,
            **monitor(hook.url + "/hook", global_trigger_limit=50),
            "policies": {"policy_source": "file", "policy_path": "policies"},
        }
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            made = await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": ["ten"]})
            key = made.json()["key"]
            assert await spend(gw, key, 6) == [200] * 6
            await gw.idle()
    assert triggers(recorder) == [
        {
            "event": "TriggerExceeded",
            "message": "Quota trigger reached",
            "org": "org1",
            "key": key,
            "trigger_limit": "50",
        }
    ]
