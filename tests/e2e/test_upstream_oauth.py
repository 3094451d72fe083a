"""Upstream OAuth end to end: a real token endpoint, echo_app as the upstream (it shows the header it
got), a real webhook receiver; both stores and both definition formats.

The token reaches the upstream instead of the client's own Authorization; it is fetched once, kept
(sealed) in the store and fetched again after it expires; a failing token endpoint gives the client
Tyk's 500 and fires one UpstreamOAuthError per failed request with Message, APIID and the request.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve, unused_port
from tests.token_server import TokenServer

API_ID = "oauth-api"
TEMPLATE = (
    '{"event": "{{.Type}}", "message": "{{.Meta.Message}}", "api_id": "{{.Meta.APIID}}", '
    '"orig": "{{.Meta.OriginatingRequest}}"}'
)


def api(fmt: str, upstream: str, token_url: str, *, grant: str = "clientCredentials", **opts: Any) -> Any:
    """A keyless API with upstream OAuth; `hook` adds an UpstreamOAuthError webhook, `header` a name."""
    block = {
        "client_id": "gw-client",
        "client_secret": "gw-secret",
        "token_url": token_url,
        "scopes": ["read"],
    }
    if grant == "password":
        block |= {"username": "svc", "password": "svc-pass"}
    if opts.get("method"):
        block["method"] = opts["method"]
    if opts.get("header"):
        block["header"] = {"enabled": True, "name": opts["header"]}
    section = "client_credentials" if grant == "clientCredentials" else "password"
    hook = opts.get("hook")
    if fmt == "classic":
        doc: dict[str, Any] = {
            "api_id": API_ID,
            "name": "oauth",
            "use_keyless": True,
            "proxy": {"listen_path": "/oauth/", "target_url": upstream, "strip_listen_path": True},
            "upstream_auth": {
                "enabled": True,
                "oauth": {"enabled": True, "allowed_authorize_types": [grant], section: block},
            },
        }
        if hook:
            meta = {
                "method": "POST",
                "target_path": hook,
                "template_path": opts["template"],
                "event_timeout": 0,
            }
            doc["event_handlers"] = {
                "events": {
                    "UpstreamOAuthError": [{"handler_name": "eh_web_hook_handler", "handler_meta": meta}]
                }
            }
        return doc
    renames = {"client_id": "clientId", "client_secret": "clientSecret", "token_url": "tokenUrl"}
    oas_block = {renames.get(k, k): v for k, v in block.items()}
    server: dict[str, Any] = {"listenPath": {"value": "/oauth/", "strip": True}}
    if hook:
        server["eventHandlers"] = [
            {
                "enabled": True,
                "trigger": "UpstreamOAuthError",
                "type": "webhook",
                "url": hook,
                "method": "POST",
                "bodyTemplate": opts["template"],
                "cooldownPeriod": "0s",
            }
        ]
    oas_section = "clientCredentials" if grant == "clientCredentials" else "password"
    return {
        "openapi": "3.0.3",
        "info": {"title": "oauth", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": API_ID, "name": "oauth", "state": {"active": True}},
            "server": server,
            "upstream": {
                "url": upstream,
                "authentication": {
                    "enabled": True,
                    "oauth": {"enabled": True, "allowedAuthorizeTypes": [grant], oas_section: oas_block},
                },
            },
        },
    }


def upstream_headers(response: httpx.Response, name: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [v for k, v in response.json()["headers"] if k == name]


@pytest.mark.parametrize("grant", ["clientCredentials", "password"])
@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_the_grant_puts_its_token_upstream(
    tmp_path: Path, fmt: str, grant: str, store_config: dict[str, Any]
) -> None:
    tokens = TokenServer()
    async with serve(echo_app) as upstream, serve(tokens) as idp:
        doc = api(fmt, upstream.url, idp.url + "/token", grant=grant)
        async with run_gateway(tmp_path, apis=[doc], config=store_config) as gw:
            first = await gw.client.get("/oauth/a", headers={"Authorization": "Bearer client-own"})
            second = await gw.client.get("/oauth/b")
    # The client's own Authorization is replaced, never sent twice.
    assert upstream_headers(first, "authorization") == ["Bearer tok-1"]
    assert upstream_headers(second, "authorization") == ["Bearer tok-1"]
    (request,) = tokens.requests
    assert request.form["grant_type"] == (
        "client_credentials" if grant == "clientCredentials" else "password"
    )
    assert request.form["scope"] == "read"
    assert request.basic == ("gw-client", "gw-secret")
    if grant == "password":
        assert (request.form["username"], request.form["password"]) == ("svc", "svc-pass")


async def test_a_custom_header_leaves_the_clients_authorization_alone(tmp_path: Path) -> None:
    tokens = TokenServer()
    async with serve(echo_app) as upstream, serve(tokens) as idp:
        doc = api("oas", upstream.url, idp.url + "/token", header="X-Upstream-Auth")
        async with run_gateway(tmp_path, apis=[doc]) as gw:
            response = await gw.client.get("/oauth/a", headers={"Authorization": "client-own"})
    assert upstream_headers(response, "x-upstream-auth") == ["Bearer tok-1"]
    assert upstream_headers(response, "authorization") == ["client-own"]


async def test_auto_method_falls_back_to_form_credentials_and_remembers(tmp_path: Path) -> None:
    tokens = TokenServer(accept="post")
    async with serve(echo_app) as upstream, serve(tokens) as idp:
        doc = api("classic", upstream.url, idp.url + "/token", grant="password")
        async with run_gateway(tmp_path, apis=[doc]) as gw:
            assert upstream_headers(await gw.client.get("/oauth/a"), "authorization") == ["Bearer tok-1"]
    first, second = tokens.requests
    assert first.basic is not None and second.basic is None
    assert (second.form["client_id"], second.form["client_secret"]) == ("gw-client", "gw-secret")


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_cached_until_expiry_then_fetched_again(
    tmp_path: Path, fmt: str, store_config: dict[str, Any]
) -> None:
    tokens = TokenServer(expires_in=1)
    async with serve(echo_app) as upstream, serve(tokens) as idp:
        doc = api(fmt, upstream.url, idp.url + "/token")
        async with run_gateway(tmp_path, apis=[doc], config=store_config) as gw:
            # Concurrent misses wait for one fetch.
            burst = await asyncio.gather(*(gw.client.get(f"/oauth/{i}") for i in range(10)))
            assert {upstream_headers(r, "authorization")[0] for r in burst} == {"Bearer tok-1"}
            assert len(tokens.requests) == 1
            # The store holds Tyk's key, with the token sealed, never in the clear.
            keys = await gw.gateway.store.keys("upstreamOAuthCC-")
            assert len(keys) == 1
            stored = json.loads(await gw.gateway.store.get(keys[0]) or "{}")
            assert "tok-1" not in json.dumps(stored) and stored["token"].startswith("v2.")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            seen = "Bearer tok-1"
            while seen == "Bearer tok-1":  # bounded poll across the 1 s lifetime
                assert loop.time() < deadline, "the token was never fetched again"
                seen = upstream_headers(await gw.client.get("/oauth/again"), "authorization")[0]
                await asyncio.sleep(0.05)
    assert seen == "Bearer tok-2" and len(tokens.requests) == 2


async def test_a_second_gateway_reuses_the_stored_token(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    config = {"storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port}}
    tokens = TokenServer()
    async with serve(echo_app) as upstream, serve(tokens) as idp:
        doc = api("classic", upstream.url, idp.url + "/token")
        async with run_gateway(tmp_path / "a", apis=[doc], config=config) as one:
            assert upstream_headers(await one.client.get("/oauth/a"), "authorization") == ["Bearer tok-1"]
            async with run_gateway(tmp_path / "b", apis=[doc], config=config) as two:
                assert upstream_headers(await two.client.get("/oauth/b"), "authorization") == ["Bearer tok-1"]
        # Another gateway secret cannot open the sealed token: it fetches its own.
        async with run_gateway(tmp_path / "c", apis=[doc], config={**config, "secret": "other"}) as three:
            assert upstream_headers(await three.client.get("/oauth/c"), "authorization") == ["Bearer tok-2"]
    assert len(tokens.requests) == 2


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_a_failing_token_endpoint_fires_one_event_per_request(
    tmp_path: Path, fmt: str, store_config: dict[str, Any]
) -> None:
    template = tmp_path / "templates" / "oauth_error.json"  # inside template_path, where templates must be
    template.parent.mkdir()
    template.write_text(TEMPLATE)
    tokens = TokenServer(fail_status=401, fail_body=b"no such client", fail_content_type=b"text/plain")
    recorder = WebhookRecorder()
    text = "oauth2: cannot fetch token: 401 Unauthorized\nResponse: no such client"
    async with serve(echo_app) as upstream, serve(tokens) as idp, serve(recorder) as hook:
        doc = api(
            fmt,
            upstream.url,
            idp.url + "/token",
            method="client_secret_basic",
            hook=hook.url,
            template=str(template),
        )
        async with run_gateway(tmp_path, apis=[doc], config=store_config) as gw:
            failed = [
                await gw.client.post(f"/oauth/{i}", content=b"body-" + str(i).encode()) for i in range(3)
            ]
            deliveries = await recorder.wait_for(3)
            await gw.idle()
            assert len(recorder.deliveries) == 3
            assert len(tokens.requests) == 3  # a failure is never cached
            tokens.fail_status = None
            recovered = await gw.client.get("/oauth/ok")
    for response in failed:
        assert response.status_code == 500
        assert response.json() == {"error": f"failed to get OAuth token: {text}"}
    bodies = [d.json() for d in deliveries]
    assert [(b["event"], b["message"], b["api_id"]) for b in bodies] == [
        ("UpstreamOAuthError", text, API_ID)
    ] * 3
    wires = sorted(base64.b64decode(b["orig"]) for b in bodies)
    for i, wire in enumerate(wires):
        assert wire.startswith(f"POST /oauth/{i} HTTP/1.1\r\n".encode()) and wire.endswith(
            f"body-{i}".encode()
        )
    assert upstream_headers(recovered, "authorization") == ["Bearer tok-1"]


async def test_an_unreachable_token_endpoint_is_a_500_naming_it(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    token_url = f"http://127.0.0.1:{unused_port()}/token"
    async with serve(echo_app) as upstream, serve(recorder) as hook:
        doc = api("oas", upstream.url, token_url, hook=hook.url, template="templates/default_webhook.json")
        async with run_gateway(tmp_path, apis=[doc]) as gw:
            response = await gw.client.get("/oauth/a")
            (delivery,) = await recorder.wait_for(1)
            await gw.idle()
    assert response.status_code == 500
    message = response.json()["error"]
    assert message.startswith(f'failed to get OAuth token: Post "{token_url}": ')
    body = delivery.json()
    assert body == {
        "event": "UpstreamOAuthError",
        "message": message.removeprefix("failed to get OAuth token: "),
        "api_id": API_ID,
    }


async def test_a_bad_upstream_oauth_definition_is_skipped_and_the_rest_serves(tmp_path: Path) -> None:
    async with serve(echo_app) as upstream:
        bad = api("classic", upstream.url, "not-a-url")
        good = api("oas", upstream.url, "http://127.0.0.1:1/token")
        good["x-tyk-api-gateway"]["info"]["id"] = "good"
        good["x-tyk-api-gateway"]["server"]["listenPath"]["value"] = "/good/"
        good["x-tyk-api-gateway"]["upstream"]["authentication"]["enabled"] = False
        async with run_gateway(tmp_path, apis=[bad, good]) as gw:
            assert (await gw.client.get("/good/x")).status_code == 200
            assert (await gw.client.get("/oauth/x")).status_code == 404
            assert [s.api_id for s in gw.gateway.specs()] == ["good"]
