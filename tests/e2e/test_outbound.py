"""The outbound policy end to end, on a real gateway with real receivers on 127.0.0.1: with tyk.conf
denying loopback, a name that resolves there (`localhost`, through the hosts file) passes the load and is
refused when it is called, by every client the gateway has (webhooks, JWKS, upstream OAuth, uptime
checks), each failure final and logged with what and where; the proxy's own upstream on 127.0.0.1 is
not under the policy. An allow-list of 127.0.0.1 alone lets that address through and refuses the rest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.testing import WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.conftest import seed_classic

NO_LOOPBACK = {"outbound": {"deny": ["169.254.0.0/16", "127.0.0.0/8", "::1"]}}
REFUSED = "refused by the outbound policy: 127.0.0.1 (from localhost) is in outbound.deny (127.0.0.0/8)"


def on_localhost(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


async def test_a_webhook_to_a_name_that_resolves_to_a_denied_address_fails_at_once(
    tmp_path: Path, store_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, on_localhost(hook.url) + "/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config={**store_config, **NO_LOOPBACK}) as gw:
            # The upstream is on 127.0.0.1 too: the proxy's target_url is the operator's, not the policy's.
            codes = [(await gw.client.get("/example-local-webhook/")).status_code for _ in range(3)]
            await gw.idle()
            log = (await gw.admin("GET", "/tyk/webhooks/deliveries")).json()["deliveries"]
    assert codes == [200, 200, 429]
    (attempt,) = log
    assert (attempt["attempt"], attempt["status"], attempt["outcome"]) == (1, 0, "given up")
    assert attempt["error"] == f"OutboundRefused: {REFUSED}"
    assert recorder.deliveries == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "for api 'seed-classic': given up after 1 attempt(s) to POST http://localhost:" in w and REFUSED in w
        for w in warnings
    )


async def test_jwks_token_requests_and_uptime_checks_are_refused_when_they_are_made(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    idp = WebhookRecorder()  # JWKS, token endpoint and health check in one: it must hear nothing
    async with await serve(echo_app) as upstream, await serve(idp) as served:
        named = on_localhost(served.url)
        jwt_api = {
            "api_id": "jwt",
            "proxy": {"listen_path": "/jwt/", "target_url": upstream.url},
            "enable_jwt": True,
            "jwt_signing_method": "rsa",
            "jwt_source": named + "/jwks",
        }
        client = {"client_id": "c", "client_secret": "s", "token_url": named + "/token"}
        oauth = {
            "enabled": True,
            "allowed_authorize_types": ["clientCredentials"],
            "client_credentials": client,
        }
        oauth_api = {
            "api_id": "oauth",
            "use_keyless": True,
            "proxy": {"listen_path": "/oauth/", "target_url": upstream.url},
            "upstream_auth": {"enabled": True, "oauth": oauth},
            "uptime_tests": {"check_list": [{"url": named + "/health"}]},
        }
        config = {**NO_LOOPBACK, "uptime_tests": {"config": {"time_wait": 0.2}}}
        async with run_gateway(tmp_path, apis=[jwt_api, oauth_api], config=config) as gw:
            key = rsa.generate_private_key(65537, 2048)
            token = jwt.encode({"sub": "someone"}, key, algorithm="RS256", headers={"kid": "k1"})
            denied = await gw.client.get("/jwt/x", headers={"Authorization": f"Bearer {token}"})
            failed = await gw.client.get("/oauth/x")
            await eventually(lambda: "uptime check on localhost" in caplog.text, "the refused uptime check")
    assert denied.status_code == 403
    assert failed.status_code == 500 and REFUSED in failed.text
    text = caplog.text
    assert f"API 'jwt': JWKS {named}/jwks could not be read: {REFUSED}" in text
    assert REFUSED in text.split("uptime check on localhost", 1)[1].splitlines()[0]
    assert idp.deliveries == []


async def test_an_allow_list_of_127_0_0_1_lets_only_that_through(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        good = seed_classic(upstream.url, hook.url + "/hook", cooldown=0)
        elsewhere = seed_classic(upstream.url, "http://10.0.0.1/hook") | {"api_id": "elsewhere"}
        elsewhere["proxy"] = {**elsewhere["proxy"], "listen_path": "/elsewhere/"}
        by_name = seed_classic(upstream.url, on_localhost(hook.url) + "/named", cooldown=0)
        by_name |= {"api_id": "by-name", "proxy": {**by_name["proxy"], "listen_path": "/by-name/"}}
        config = {"outbound": {"allow": ["127.0.0.1"]}}
        async with run_gateway(tmp_path, apis=[good, elsewhere, by_name], config=config) as gw:
            assert sorted(s.api_id for s in gw.gateway.specs()) == ["by-name", "seed-classic"]
            for path in ("/example-local-webhook/", "/by-name/"):
                assert [(await gw.client.get(path)).status_code for _ in range(3)] == [200, 200, 429]
            await recorder.wait_for(2)
            await gw.idle()
    assert sorted(d.path for d in recorder.deliveries) == ["/hook", "/named"]  # localhost is 127.0.0.1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(
        "skipped API 'elsewhere'" in e
        and "http://10.0.0.1/hook is refused by the outbound policy: 10.0.0.1 is not in outbound.allow" in e
        for e in errors
    )
