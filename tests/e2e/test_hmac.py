"""HMAC request signing end to end, on both stores and both formats: keys made with /tyk/keys/create
(`hmac_enabled` gives them a generated `hmac_string`), requests signed here with Python's hmac module (never
the gateway's code), Tyk's one 400 and AuthFailure for each refusal delivered to a webhook receiver, the
key's own rate limit firing RatelimitExceeded; then the credential from a query parameter, stripped,
HMAC beside the auth token with the HMAC key as the identity, and what is refused at load and per request."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event

INVALID = "Authorization field missing, malformed or invalid"
EVENTS = ("AuthFailure", "RatelimitExceeded")
RIGHTS = {"signed": {"api_id": "signed", "versions": ["Default"]}}
ALGORITHMS = ["hmac-sha1", "hmac-sha256"]
HASHES = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256, "hmac-sha512": hashlib.sha512}


def classic_api(upstream: str, hook: str, **extra: Any) -> dict[str, Any]:
    hooks = hooks_per_event(hook, EVENTS)
    return {
        "api_id": "signed",
        "org_id": "org1",
        "name": "Signed",
        "enable_signature_checking": True,
        "hmac_allowed_algorithms": ALGORITHMS,
        "hmac_allowed_clock_skew": 5000,
        "proxy": {"listen_path": "/signed/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks},
        **extra,
    }


def oas_api(upstream: str, hook: str) -> dict[str, Any]:
    handlers = [
        {
            "enabled": True,
            "trigger": e,
            "type": "webhook",
            "url": f"{hook}/{e}",
            "method": "POST",
            "cooldownPeriod": "0s",
        }
        for e in EVENTS
    ]
    hmac_block = {
        "enabled": True,
        "header": {"enabled": True},
        "allowedAlgorithms": ALGORITHMS,
        "allowedClockSkew": 5000,
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Signed", "version": "1"},
        "paths": {},
        "security": [{"hmac": []}],
        "components": {},
        "x-tyk-api-gateway": {
            "info": {"id": "signed", "name": "Signed", "orgId": "org1", "state": {"active": True}},
            "server": {
                "listenPath": {"value": "/signed/", "strip": True},
                "authentication": {"enabled": True, "hmac": hmac_block},
                "eventHandlers": handlers,
            },
            "upstream": {"url": upstream},
        },
    }


def sign(
    key_id: str,
    secret: str,
    headers: dict[str, str],
    names: tuple[str, ...] = ("date",),
    algorithm: str = "hmac-sha1",
    target: str = "get /signed/x",
) -> str:
    """The client's side, written out: `name: value` lines, HMAC, base64, then URL-escaped. Tyk's rule
    for clients that cannot set Date: `date` then signs an X-Aux-Date header, under its own name."""
    lower = {k.lower(): v for k, v in headers.items()}
    lines = []
    for name in names:
        if name == "(request-target)":
            lines.append(f"(request-target): {target}")
            continue
        if name == "date" and "x-aux-date" in lower:
            name = "x-aux-date"
        lines.append(f"{name}: {lower.get(name, '')}")
    digest = hmac.new(secret.encode(), "\n".join(lines).encode(), HASHES[algorithm]).digest()
    escaped = quote(base64.b64encode(digest).decode(), safe="")
    listed = f'headers="{" ".join(names)}",' if names != ("date",) else ""
    return f'Signature keyId="{key_id}",algorithm="{algorithm}",{listed}signature="{escaped}"'


def now(offset: float = 0) -> str:
    return formatdate(time.time() + offset, usegmt=True)


async def call(gw: RunningGateway, headers: dict[str, str], path: str = "/signed/x") -> tuple[int, str]:
    resp = await gw.client.get(path, headers=headers)
    return resp.status_code, resp.json().get("error", "") if resp.status_code != 200 else ""


async def hmac_key(gw: RunningGateway, **fields: Any) -> tuple[str, str]:
    """A generated key with its generated secret, as Tyk's /tyk/keys/create makes them."""
    body = {"org_id": "org1", "hmac_enabled": True, "access_rights": RIGHTS, **fields}
    key = (await gw.admin("POST", "/tyk/keys/create", json=body)).json()["key"]
    secret = (await gw.admin("GET", f"/tyk/keys/{key}")).json()["hmac_string"]
    assert len(secret) == 44 and base64.b64decode(secret)  # base64 of 32 hex characters, as Tyk's
    return key, secret


def keys_in(recorder: WebhookRecorder, event: str) -> list[str]:
    return sorted(d.json()["key"] for d in recorder.deliveries if d.path == f"/hook/{event}")


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_signed_requests_refusals_events_and_the_keys_rate_limit(
    tmp_path: Path, store_config: dict[str, Any], fmt: str
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = (classic_api if fmt == "classic" else oas_api)(upstream.url, hook.url + "/hook")
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            key, secret = await hmac_key(gw, rate=3, per=60)
            plain = {"org_id": "org1", "hmac_string": "plain-secret", "access_rights": RIGHTS}
            assert (await gw.admin("POST", "/tyk/keys/plain-key", json=plain)).status_code == 200

            date = {"Date": now()}
            refused = {
                "malformed": {**date, "Authorization": f'Signature keyId="{key}",created="1"'},
                "unknown key": {**date, "Authorization": sign("nobody-at-all", secret, date)},
                "no hmac_enabled": {**date, "Authorization": sign("plain-key", "plain-secret", date)},
                "algorithm not allowed": {
                    **date,
                    "Authorization": sign(key, secret, date, algorithm="hmac-sha512"),
                },
                "wrong secret": {**date, "Authorization": sign(key, "not-the-secret", date)},
                "too old": {"Date": now(-60), "Authorization": sign(key, secret, {"Date": now(-60)})},
                "no date": {"Authorization": sign(key, secret, {})},
            }
            assert await call(gw, {}) == (400, INVALID)
            for why, headers in refused.items():
                assert await call(gw, headers) == (400, INVALID), why
            raw = sign(key, secret, date).replace("%2F", "/").replace("%2B", "+").replace("%3D", "=")
            assert await call(gw, {**date, "Authorization": raw}) == (400, INVALID)  # Tyk never URL-decodes

            # Signed over the request target (the path as received, without the query) and a header.
            sent = {**date, "X-Custom": "Value"}
            names = ("(request-target)", "date", "x-custom")
            signed = sign(key, secret, sent, names, "hmac-sha256")
            resp = await gw.client.get("/signed/x?q=1", headers={**sent, "Authorization": signed})
            assert resp.status_code == 200 and resp.json()["path"] == "/x"
            lower = signed.replace("%3D", "%3d")
            assert await call(gw, {**sent, "Authorization": lower}) == (200, "")  # lower-case escapes pass
            aux = {"X-Aux-Date": now()}
            assert await call(gw, {**aux, "Date": "not a date", "Authorization": sign(key, secret, aux)}) == (
                200,
                "",
            )
            # The key's own rate limit (3 per minute) applies after the signature checks out.
            assert await call(gw, {**date, "Authorization": sign(key, secret, date)}) == (
                429,
                "Rate Limit Exceeded",
            )

            await gw.idle()
            await recorder.wait_for(len(refused) + 3)
            # AuthFailure carries the credential as sent ("" when there is none); the rate limit the key.
            expected = ["", raw, *(h["Authorization"] for h in refused.values())]
            assert keys_in(recorder, "AuthFailure") == sorted(expected)
            assert keys_in(recorder, "RatelimitExceeded") == [key]


async def test_query_source_stripped_and_beside_the_auth_token(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    both = {
        "use_standard_auth": True,
        "base_identity_provided_by": "hmac_key",
        "strip_auth_data": True,
        "hmac_allowed_algorithms": [],
        "hmac_allowed_clock_skew": 0,
        "auth_configs": {
            "hmac": {"disable_header": True, "use_param": True, "param_name": "sig"},
            "authToken": {"auth_header_name": "X-Key"},
        },
    }
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = classic_api(upstream.url, hook.url + "/hook", **both)
        async with run_gateway(tmp_path, apis=[api]) as gw:
            key, secret = await hmac_key(gw, quota_max=1, quota_renewal_rate=3600)
            token = (
                await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "access_rights": RIGHTS})
            ).json()
            old = {"Date": "Mon, 02 Jan 2006 15:04:05 GMT"}  # any parsable Date with a skew of 0
            # Any algorithm name without an allow list: an unknown one is HMAC-SHA1, as in Tyk.
            credential = sign(key, secret, old).replace('"hmac-sha1"', '"whatever"')
            params = {"sig": credential}
            headers = {**old, "X-Key": token["key"]}
            assert await call(gw, {**old, "Authorization": credential, "X-Key": token["key"]}) == (
                400,
                INVALID,
            )
            resp = await gw.client.get("/signed/x", params={**params, "keep": "1"}, headers=headers)
            assert resp.status_code == 200
            seen = resp.json()
            assert seen["query"] == "keep=1" and "x-key" not in dict(
                seen["headers"]
            )  # every credential stripped
            # The identity is the HMAC key's: its quota of 1 is spent, the token's untouched.
            assert (await gw.client.get("/signed/x", params=params, headers=headers)).status_code == 403


async def test_refused_at_load_and_rsa_per_request(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with await serve(echo_app) as upstream:
        md5 = {
            **classic_api(upstream.url, "http://127.0.0.1:1"),
            "api_id": "md5",
            "hmac_allowed_algorithms": ["hmac-md5"],
        }
        md5["proxy"] = {**md5["proxy"], "listen_path": "/md5/"}
        open_api = classic_api(upstream.url, "http://127.0.0.1:1", hmac_allowed_algorithms=[])
        async with run_gateway(tmp_path, apis=[md5, open_api]) as gw:
            assert [s.api_id for s in gw.gateway.specs()] == ["signed"]
            assert (await gw.client.get("/md5/x")).status_code == 404  # never served without its check
            key, _ = await hmac_key(gw)
            rsa = {
                "Date": now(),
                "Authorization": f'Signature keyId="{key}",algorithm="rsa-sha256",signature="AAAA"',
            }
            assert await call(gw, rsa) == (400, INVALID)
    text = caplog.text
    assert "000-md5.json" in text and "$.hmac_allowed_algorithms[0]" in text and "hmac-md5" in text
    assert "RSA request signing (rsa-sha256) is not supported" in text
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gateway"))
    assert "refused" in ours and key not in ours  # the gateway never logs the credential as sent
    assert not [r for r in caplog.records if r.exc_info]
