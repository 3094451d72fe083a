"""Basic auth end to end, on both stores and both formats: users made through /tyk/keys/{username} with
their password hashed (bcrypt, or tyk.conf's basic_auth_hash_key_function) and never shown; Tyk's
statuses, messages and challenge for each refusal; AuthFailure delivered by a webhook; the user's own
limits after login; and Basic auth combined with the auth token, the identity taken from the token."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event

EVENTS = ("AuthFailure", "QuotaExceeded")
REALM = 'Basic realm="Shop"'


def classic_api(upstream: str, hook: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_id": "shop",
        "org_id": "org1",
        "name": "Shop",
        "use_basic_auth": True,
        "proxy": {"listen_path": "/shop/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks_per_event(hook, EVENTS)},
        **extra,
    }


def oas_api(upstream: str, hook: str) -> dict[str, Any]:
    handlers = [
        {
            "enabled": True,
            "trigger": event,
            "type": "webhook",
            "url": f"{hook}/{event}",
            "method": "POST",
            "cooldownPeriod": "0s",
        }
        for event in EVENTS
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "Shop", "version": "1"},
        "paths": {},
        "components": {"securitySchemes": {"users": {"type": "http", "scheme": "basic"}}},
        "x-tyk-api-gateway": {
            "info": {"id": "shop", "name": "Shop", "orgId": "org1", "state": {"active": True}},
            "server": {
                "listenPath": {"value": "/shop/", "strip": True},
                "authentication": {
                    "enabled": True,
                    "securitySchemes": {"users": {"enabled": True, "header": {"enabled": True}}},
                },
                "eventHandlers": handlers,
            },
            "upstream": {"url": upstream},
        },
    }


def basic(user: str, password: str, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def call(gw: RunningGateway, headers: dict[str, str]) -> tuple[int, str, str]:
    resp = await gw.client.get("/shop/x", headers=headers)
    message = resp.json().get("error", "") if resp.status_code != 200 else ""
    return resp.status_code, message, resp.headers.get("www-authenticate", "")


def keys_in(recorder: WebhookRecorder, event: str) -> list[str]:
    return [d.json()["key"] for d in recorder.deliveries if d.path == f"/hook/{event}"]


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_basic_auth_users_refusals_events_and_limits(
    tmp_path: Path, store_config: dict[str, Any], fmt: str
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = (classic_api if fmt == "classic" else oas_api)(upstream.url, hook.url + "/hook")
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            user = {
                "org_id": "org1",
                "basic_auth_data": {"password": "s3cret"},
                "access_rights": {"shop": {"api_id": "shop", "versions": ["Default"]}},
                "quota_max": 2,
                "quota_renewal_rate": 3600,
            }
            created = await gw.admin("POST", "/tyk/keys/alice", json=user)
            assert created.json()["key"] == "org1alice"  # Tyk's <org_id><username>
            shown = (await gw.admin("GET", "/tyk/keys/org1alice")).json()
            assert shown["basic_auth_data"] == {"hash_type": "bcrypt"}  # the hash is never shown

            assert await call(gw, {}) == (401, "Authorization field missing", REALM)
            for malformed, why in [
                ({"Authorization": "Basic"}, "header not in basic auth format"),
                ({"Authorization": "Basic !!!"}, "auth data not encoded correctly"),
                (basic("alice", "s3:cret"), "values not in basic auth format"),
            ]:
                assert await call(gw, malformed) == (
                    400,
                    "Attempted access with malformed header, " + why,
                    "",
                )
            wrong, stranger = basic("alice", "wrong"), basic("bob", "s3cret")
            assert await call(gw, wrong) == (401, "User not authorised", REALM)
            assert await call(gw, stranger) == (401, "User not authorised", REALM)

            assert (await call(gw, basic("alice", "s3cret")))[0] == 200
            assert (await call(gw, basic("alice", "s3cret", scheme="Whatever")))[0] == 200  # Tyk: any word
            assert await call(gw, basic("alice", "s3cret")) == (403, "Quota exceeded", "")
            await gw.idle()
            await recorder.wait_for(3)
            # Tyk's AuthFailure carries the Authorization header as sent; the quota event the stored key.
            assert keys_in(recorder, "AuthFailure") == [wrong["Authorization"], stranger["Authorization"]]
            assert keys_in(recorder, "QuotaExceeded") == ["org1alice"]


async def test_hashes_other_than_bcrypt_and_basic_with_the_auth_token(tmp_path: Path) -> None:
    config = {"basic_auth_hash_key_function": "sha256"}
    both = {
        "use_standard_auth": True,
        "base_identity_provided_by": "auth_token",
        "auth_configs": {
            "basic": {"auth_header_name": "Authorization"},
            "authToken": {"auth_header_name": "X-Key"},
        },
    }
    async with await serve(echo_app) as upstream:
        api = classic_api(upstream.url, "http://127.0.0.1:1", **both)
        async with run_gateway(tmp_path, apis=[api], config=config) as gw:
            rights = {"shop": {"api_id": "shop", "versions": ["Default"]}}
            user = {"org_id": "org1", "basic_auth_data": {"password": "pw"}, "access_rights": rights}
            await gw.admin("POST", "/tyk/keys/carol", json=user)
            assert (await gw.admin("GET", "/tyk/keys/org1carol")).json()["basic_auth_data"][
                "hash_type"
            ] == "sha256"
            token = (
                await gw.admin(
                    "POST", "/tyk/keys", json={"org_id": "org1", "access_rights": rights, "quota_max": 1}
                )
            ).json()["key"]
            # Every method must pass; the identity (its quota) is the auth token's.
            assert (await call(gw, basic("carol", "pw")))[:2] == (401, "Authorization field missing")
            assert (await call(gw, {**basic("carol", "pw"), "X-Key": "nope"}))[:2] == (
                403,
                "Access to this API has been disallowed",
            )
            assert (await call(gw, {**basic("carol", "bad"), "X-Key": token}))[:2] == (
                401,
                "User not authorised",
            )
            assert (await call(gw, {**basic("carol", "pw"), "X-Key": token}))[0] == 200
            assert (await call(gw, {**basic("carol", "pw"), "X-Key": token}))[:2] == (403, "Quota exceeded")


async def test_credentials_read_from_the_body(tmp_path: Path, store_config: dict[str, Any]) -> None:
    """Tyk's extract_from_body: without a header credential the body's matches are the user and password;
    the upstream gets the body unchanged; Tyk's 400s for a body without them, and no challenge."""
    recorder = WebhookRecorder()
    basic_auth = {
        "extract_from_body": True,
        "body_user_regexp": "<User>(.*)</User>",
        "body_password_regexp": "<Password>(.*)</Password>",
    }
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = classic_api(upstream.url, hook.url + "/hook", basic_auth=basic_auth)
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            rights = {"shop": {"api_id": "shop", "versions": ["Default"]}}
            user = {"org_id": "org1", "basic_auth_data": {"password": "pw"}, "access_rights": rights}
            assert (await gw.admin("POST", "/tyk/keys/user", json=user)).status_code == 200

            async def post(body: bytes, **headers: str) -> tuple[int, str, str]:
                resp = await gw.client.post("/shop/x", content=body, headers=headers)
                message = (
                    resp.json().get("error", "") if resp.status_code != 200 else resp.json()["body_sha256"]
                )
                return resp.status_code, message, resp.headers.get("www-authenticate", "")

            good = b"<Login><User>user</User><Password>pw</Password></Login>"
            assert await post(good) == (200, hashlib.sha256(good).hexdigest(), "")  # forwarded unchanged
            assert await post(b"") == (400, "Body do not contain username", "")
            assert await post(b"<User>user</User>") == (400, "Body do not contain password", "")
            wrong = b"<User>user</User><Password>nope</Password>"
            assert await post(wrong) == (401, "User not authorised", REALM)
            assert await post(good, **basic("user", "nope")) == (
                401,
                "User not authorised",
                REALM,
            )  # header wins
            big = good + b" " * (1 << 20)
            assert (await post(big))[:2] == (413, "Request body too large to read credentials from")
            await gw.idle()
            await recorder.wait_for(2)
            assert len(keys_in(recorder, "AuthFailure")) == 2
