"""Quotas, organisation limits and smoothing end to end, on both stores: a real gateway, a real upstream,
a WebhookRecorder on every event with no cooldown (`event_timeout: 0`).

What is asserted per event: the delivery's body (event, message, path, origin, key), the client's status
and error message, and once per occurrence: N refused requests give exactly N deliveries, counted after
`gw.idle()` (every fired event handled), and a passing request gives none.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event

EVENTS = (
    "QuotaExceeded",
    "OrgQuotaExceeded",
    "OrgRateLimitExceeded",
    "RateLimitSmoothingUp",
    "RateLimitSmoothingDown",
    "RatelimitExceeded",
)


def api(upstream: str, hook: str, *, keyed: bool = True) -> dict[str, Any]:
    hooks = hooks_per_event(hook, EVENTS)
    return {
        "api_id": "lim",
        "org_id": "org1",
        "name": "lim",
        "use_keyless": not keyed,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/lim/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks},
    }


def session(**fields: Any) -> dict[str, Any]:
    rights = {"lim": {"api_id": "lim", "api_name": "lim", "versions": ["Default"]}}
    return {"org_id": "org1", "rate": 0, "per": 0, "quota_max": -1, "access_rights": rights, **fields}


async def new_key(gw: RunningGateway, **fields: Any) -> str:
    created = await gw.admin("POST", "/tyk/keys", json=session(**fields))
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


async def get(gw: RunningGateway, key: str = "") -> tuple[int, str]:
    resp = await gw.client.get("/lim/x", headers={"Authorization": key} if key else {})
    return resp.status_code, resp.json().get("error", "") if resp.status_code != 200 else ""


def by_event(recorder: WebhookRecorder, event: str) -> list[dict[str, Any]]:
    return [d.json() for d in recorder.deliveries if d.path == f"/hook/{event}"]


def expected(event: str, message: str, key: str) -> dict[str, str]:
    return {"event": event, "message": message, "path": "/lim/x", "origin": "127.0.0.1", "key": key}


async def test_quota_exceeded(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(
            tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=store_config
        ) as gw:
            key = await new_key(gw, quota_max=2, quota_renewal_rate=3600)
            first = await gw.client.get("/lim/x", headers={"Authorization": key})
            assert first.headers["x-ratelimit-limit"] == "2"
            assert first.headers["x-ratelimit-remaining"] == "1"
            assert await get(gw, key) == (200, "")
            assert [await get(gw, key) for _ in range(3)] == [(403, "Quota exceeded")] * 3
            await recorder.wait_for(3)
            await gw.idle()
            detail = (await gw.admin("GET", f"/tyk/keys/{key}")).json()
            # A per-API limit in access_rights is the quota, and its figures are the headers (Tyk).
            rights = {"lim": {"api_id": "lim", "limit": {"quota_max": 5, "quota_renewal_rate": 60}}}
            other = await new_key(gw, quota_max=1, access_rights=rights)
            headers = (await gw.client.get("/lim/x", headers={"Authorization": other})).headers
            assert (headers["x-ratelimit-limit"], headers["x-ratelimit-remaining"]) == ("5", "4")
    assert detail["quota_remaining"] == 0
    assert (
        by_event(recorder, "QuotaExceeded")
        == [expected("QuotaExceeded", "Key Quota Limit Exceeded", key)] * 3
    )
    assert len(recorder.deliveries) == 3


async def test_the_quota_renews_after_its_period(tmp_path: Path, store_config: dict[str, Any]) -> None:
    async with await serve(echo_app) as upstream:
        async with run_gateway(
            tmp_path, apis=[api(upstream.url, "http://127.0.0.1:1")], config=store_config
        ) as gw:
            key = await new_key(gw, quota_max=1, quota_renewal_rate=1)
            assert [await get(gw, key) for _ in range(2)] == [(200, ""), (403, "Quota exceeded")]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while (status := await get(gw, key)) != (200, ""):
                assert status == (403, "Quota exceeded") and loop.time() < deadline, status
                await asyncio.sleep(0.05)  # bounded poll: the 1 s period runs out in the store
            assert await get(gw, key) == (403, "Quota exceeded")  # the new period has one request


async def test_quota_counters_survive_a_restart_on_the_embedded_store(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        apis = [api(upstream.url, "http://127.0.0.1:1")]
        async with run_gateway(tmp_path, apis=apis) as gw:
            key = await new_key(gw, quota_max=3, quota_renewal_rate=3600)
            assert [await get(gw, key) for _ in range(2)] == [(200, "")] * 2
        async with run_gateway(tmp_path, apis=apis) as gw:
            assert [await get(gw, key) for _ in range(2)] == [(200, ""), (403, "Quota exceeded")]


ORG_CONFIG = {"enforce_org_quotas": True}


async def test_org_quota_exceeded(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    config = {**store_config, **ORG_CONFIG}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api(upstream.url, hook.url + "/hook", keyed=False)]
        async with run_gateway(tmp_path, apis=apis, config=config) as gw:
            org = await gw.admin(
                "POST", "/tyk/org/keys/org1", json={"quota_max": 2, "quota_renewal_rate": 60}
            )
            assert org.status_code == 200, org.text
            refused = "This organisation quota has been exceeded, please contact your API administrator"
            assert [await get(gw) for _ in range(4)] == [(200, ""), (200, ""), (403, refused), (403, refused)]
            await recorder.wait_for(2)
            await gw.idle()
            # An admin reset clears the counter: the org is served again.
            await gw.admin("PUT", "/tyk/org/keys/org1?reset_quota=1", json={"quota_max": 2})
            assert await get(gw) == (200, "")
            await gw.idle()
    org_expected = expected("OrgQuotaExceeded", "Organisation quota has been exceeded", "org1")
    assert by_event(recorder, "OrgQuotaExceeded") == [org_expected] * 2
    assert len(recorder.deliveries) == 2


async def test_org_rate_limit_exceeded_and_a_disabled_org(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    config = {**store_config, **ORG_CONFIG}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            key = await new_key(gw)
            await gw.admin("POST", "/tyk/org/keys/org1", json={"rate": 1, "per": 60})
            refused = "This organisation rate limit has been exceeded, please contact your API administrator"
            assert [await get(gw, key) for _ in range(3)] == [(200, ""), (403, refused), (403, refused)]
            assert await get(gw) == (403, refused)  # before auth: no credential needed to be refused
            await recorder.wait_for(3)
            await gw.admin("PUT", "/tyk/org/keys/org1", json={"is_inactive": True})
            disabled = "this organisation access has been disabled, please contact your API administrator"
            assert await get(gw, key) == (403, disabled)
            await gw.idle()
    org_expected = expected("OrgRateLimitExceeded", "Organisation rate limit has been exceeded", "org1")
    assert by_event(recorder, "OrgRateLimitExceeded") == [org_expected] * 3
    assert len(recorder.deliveries) == 3  # the disabled org fires nothing


async def test_smoothing_goes_up_then_down(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    config = {**store_config, "enable_rate_limit_smoothing": True}
    smoothing = {"enabled": True, "threshold": 1, "trigger": 0.5, "step": 1, "delay": 1}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            key = await new_key(gw, rate=3, per=1, smoothing=smoothing)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            # Steady traffic: the window is full at the allowance, so after `delay` it steps up.
            while not by_event(recorder, "RateLimitSmoothingUp"):
                assert loop.time() < deadline, "no RateLimitSmoothingUp"
                await get(gw, key)
                await asyncio.sleep(0.05)  # bounded poll: traffic paced over real seconds
            # Quiet: once the window is empty (and the delay has passed), the next request steps down.
            services = gw.gateway.parts.services
            while await services.limiter.count(f"rate-limit-{key}", 3, 1) > 0:
                assert loop.time() < deadline, "the window never emptied"
                await asyncio.sleep(0.05)  # bounded poll on the limiter's own window
            assert await get(gw, key) == (200, "")
            await gw.idle()
            state = await services.store.get(f"rate-limit-{key}-allowance")
    ups, downs = by_event(recorder, "RateLimitSmoothingUp"), by_event(recorder, "RateLimitSmoothingDown")
    assert ups[0] == expected("RateLimitSmoothingUp", "Rate limit increased with smoothing", key)
    assert downs and downs[-1] == expected(
        "RateLimitSmoothingDown", "Rate limit decreased with smoothing", key
    )
    # Once per change: the stored allowance is the threshold plus one step per Up, less one per Down.
    assert state is not None and f'"current":{1 + len(ups) - len(downs)}' in state


async def test_smoothing_from_a_policy(tmp_path: Path, store_config: dict[str, Any]) -> None:
    """A policy's smoothing block is the key's: its rate steps up with RateLimitSmoothingUp for that key."""
    recorder = WebhookRecorder()
    (tmp_path / "policies").mkdir()
    smoothing = {"enabled": True, "threshold": 1, "trigger": 0.5, "step": 1, "delay": 1}
    rights = {"lim": {"api_id": "lim", "api_name": "lim", "versions": ["Default"]}}
    policy = {
        "id": "smooth",
        "org_id": "org1",
        "rate": 3,
        "per": 1,
        "smoothing": smoothing,
        "access_rights": rights,
    }
    (tmp_path / "policies" / "smooth.json").write_text(json.dumps(policy))
    config = {
        **store_config,
        "enable_rate_limit_smoothing": True,
        "policies": {"policy_source": "file", "policy_path": "policies"},
    }
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            made = await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": ["smooth"]})
            key = made.json()["key"]
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while not by_event(recorder, "RateLimitSmoothingUp"):
                assert loop.time() < deadline, "no RateLimitSmoothingUp"
                await get(gw, key)
                await asyncio.sleep(0.05)  # bounded poll: traffic paced over real seconds
            await gw.idle()
    up = by_event(recorder, "RateLimitSmoothingUp")[0]
    assert up == expected("RateLimitSmoothingUp", "Rate limit increased with smoothing", key)
