"""Several quota thresholds per key and per policy (a policy's `monitor.trigger_limits`, not in Tyk,
joins the key's own), end to end on both stores: each fires once per quota period, and each fires
again once the quota has renewed."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.test_limits import api, session
from tests.e2e.test_monitor import monitor, spend, triggers

RIGHTS = {"lim": {"api_id": "lim", "api_name": "lim", "versions": ["Default"]}}


def fired(recorder: WebhookRecorder) -> list[str]:
    return sorted((t["trigger_limit"] for t in triggers(recorder)), key=float)


async def renewed(gw: RunningGateway, key: str) -> None:
    """Wait (bounded) until the key's quota period has run out in the store, spending nothing."""

    async def gone() -> bool:
        return await gw.gateway.parts.sessions.used_quota(key) is None

    await eventually(gone, "the quota period to renew")


async def test_key_and_policy_thresholds_fire_once_per_period(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    (tmp_path / "policies").mkdir()
    policy = {
        "id": "tier",
        "org_id": "org1",
        "quota_max": 10,
        "quota_renewal_rate": 3,
        "access_rights": RIGHTS,
        "monitor": {"trigger_limits": [30]},
    }
    (tmp_path / "policies" / "tier.json").write_text(json.dumps(policy))
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {
            **store_config,
            **monitor(hook.url + "/hook"),
            "policies": {"policy_source": "file", "policy_path": "policies"},
        }
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            body = {"org_id": "org1", "apply_policies": ["tier"], "monitor": {"trigger_limits": [80, 50]}}
            made = await gw.admin("POST", "/tyk/keys", json=body)
            assert made.status_code == 200, made.text
            key = made.json()["key"]
            shown = (await gw.admin("GET", f"/tyk/keys/{key}")).json()
            assert sorted(shown["monitor"]["trigger_limits"]) == [30, 50, 80]
            assert await spend(gw, key, 8) == [200] * 8
            await gw.idle()
            assert fired(recorder) == ["30", "50", "80"]
            await renewed(gw, key)
            assert await spend(gw, key, 8) == [200] * 8
            await gw.idle()
    assert fired(recorder) == ["30", "30", "50", "50", "80", "80"]


async def test_a_bad_policy_threshold_is_refused(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, http=False) as gw:
        bad = {"id": "bad", "org_id": "org1", "access_rights": RIGHTS, "monitor": {"trigger_limits": [0]}}
        refused = await gw.admin("POST", "/tyk/policies", json=bad)
    assert refused.status_code == 400
    assert "monitor.trigger_limits[0]" in refused.text


async def test_no_threshold_fires_twice_in_one_period(tmp_path: Path, store_config: dict[str, Any]) -> None:
    """Requests right up to the end of a period past its threshold fire nothing more (the reservation
    lasts exactly as long as the period, not to the whole second before its end)."""
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **monitor(hook.url + "/hook")}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            body = session(quota_max=100, quota_renewal_rate=2, monitor={"trigger_limits": [5]})
            key = (await gw.admin("POST", "/tyk/keys", json=body)).json()["key"]
            sessions = gw.gateway.parts.sessions
            assert await spend(gw, key, 5) == [200] * 5
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            # One request every 50 ms (bounded) until the period has renewed: the last ones fall within
            # the period's final second.
            while (await sessions.used_quota(key) or 0) >= 5:
                assert await spend(gw, key, 1) == [200] and loop.time() < deadline
                await asyncio.sleep(0.05)
            await gw.idle()
    assert fired(recorder) == ["5"]
