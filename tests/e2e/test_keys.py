"""Keyed APIs end to end: keys made through the REST API, auth, expiry, key rate limits, events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve


def keyed_api(upstream: str, hook: str, **auth: Any) -> dict[str, Any]:
    hooks = {
        event: [
            {
                "handler_name": "eh_web_hook_handler",
                "handler_meta": {"method": "POST", "target_path": f"{hook}/{event}", "event_timeout": 0},
            }
        ]
        for event in ("AuthFailure", "KeyExpired", "RatelimitExceeded")
    }
    return {
        "api_id": "keyed",
        "org_id": "org1",
        "name": "keyed",
        "use_keyless": False,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization", **auth}},
        "proxy": {"listen_path": "/keyed/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks},
    }


def session(**fields: Any) -> dict[str, Any]:
    base = {
        "org_id": "org1",
        "rate": 100,
        "per": 60,
        "quota_max": -1,
        "expires": 0,
        "access_rights": {"keyed": {"api_id": "keyed", "api_name": "keyed", "versions": ["Default"]}},
    }
    return {**base, **fields}


async def test_auth_expiry_and_key_rate_limit(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[keyed_api(upstream.url, hook.url)], config=store_config) as gw:
            created = await gw.admin("POST", "/tyk/keys", json=session(rate=2, per=10))
            assert created.status_code == 200, created.text
            key = created.json()["key"]

            missing = await gw.client.get("/keyed/x")
            assert (missing.status_code, missing.json()) == (401, {"error": "Authorization field missing"})
            unknown = await gw.client.get("/keyed/x", headers={"Authorization": "nope-key"})
            assert (unknown.status_code, unknown.json()["error"]) == (
                403,
                "Access to this API has been disallowed",
            )

            codes = [
                (await gw.client.get("/keyed/x", headers={"Authorization": f"Bearer {key}"})).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]

            expired = await gw.admin("POST", "/tyk/keys", json=session(expires=int(time.time()) - 60))
            old = expired.json()["key"]
            gone = await gw.client.get("/keyed/x", headers={"Authorization": old})
            assert (gone.status_code, gone.json()["error"]) == (401, "Key has expired, please renew")

            await recorder.wait_for(3)
            await gw.idle()
    by_event = {d.path.rsplit("/", 1)[1]: d.json() for d in recorder.deliveries}
    assert set(by_event) == {"AuthFailure", "RatelimitExceeded", "KeyExpired"}
    assert (
        by_event["AuthFailure"]["key"] == "nope-key" and by_event["AuthFailure"]["message"] == "Auth Failure"
    )
    assert by_event["RatelimitExceeded"] == {
        "event": "RatelimitExceeded",
        "message": "Rate Limit Exceeded",
        "path": "/keyed/x",
        "origin": "127.0.0.1",
        "key": key,
    }
    assert by_event["KeyExpired"]["message"] == "Attempted access from expired key."


async def test_access_rights_and_inactive_keys(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[keyed_api(upstream.url, "http://127.0.0.1:1")]) as gw:
            other = session(access_rights={"other": {"api_id": "other", "api_name": "o", "versions": []}})
            key = (await gw.admin("POST", "/tyk/keys", json=other)).json()["key"]
            denied = await gw.client.get("/keyed/", headers={"Authorization": key})
            assert (denied.status_code, denied.json()["error"]) == (
                403,
                "Access to this API has been disallowed",
            )
            inactive = (await gw.admin("POST", "/tyk/keys", json=session(is_inactive=True))).json()["key"]
            off = await gw.client.get("/keyed/", headers={"Authorization": inactive})
            assert (off.status_code, off.json()["error"]) == (403, "Key is inactive, please renew")


async def test_query_param_and_cookie_credentials(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        api = keyed_api(
            upstream.url,
            "http://127.0.0.1:1",
            use_param=True,
            param_name="token",
            use_cookie=True,
            cookie_name="auth",
        )
        async with run_gateway(tmp_path, apis=[api]) as gw:
            key = (await gw.admin("POST", "/tyk/keys", json=session())).json()["key"]
            assert (await gw.client.get(f"/keyed/?token={key}")).status_code == 200
            assert (await gw.client.get("/keyed/", headers={"Cookie": f"auth={key}"})).status_code == 200
            assert (await gw.client.get("/keyed/?token=wrong")).status_code == 403


async def test_token_events_reach_gateway_level_handlers(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        handlers = {
            event: [
                {
                    "handler_name": "eh_web_hook_handler",
                    "handler_meta": {"method": "POST", "target_path": f"{hook.url}/{event}"},
                }
            ]
            for event in ("TokenCreated", "TokenUpdated", "TokenDeleted")
        }
        config = {"event_handlers": {"events": handlers}, "hash_keys": True}
        async with run_gateway(tmp_path, config=config) as gw:
            key = (await gw.admin("POST", "/tyk/keys/create", json=session())).json()["key"]
            assert (await gw.admin("PUT", f"/tyk/keys/{key}", json=session(rate=5))).status_code == 200
            assert (await gw.admin("DELETE", f"/tyk/keys/{key}")).status_code == 200
            await recorder.wait_for(3)
    # Workers deliver concurrently, so arrival order is not firing order.
    bodies = {d.json()["event"]: d.json() for d in recorder.deliveries}
    assert {e: b["message"] for e, b in bodies.items()} == {
        "TokenCreated": "Key generated.",
        "TokenUpdated": "Key modified.",
        "TokenDeleted": "Key deleted.",
    }
    assert all(b["key"] == key and b["org"] == "org1" for b in bodies.values())
