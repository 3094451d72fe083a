"""TLS end to end with real certificates: the gateway serving HTTPS, static mutual TLS per API (Classic
and OAS), and a client certificate presented to an upstream that requires one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import echo_app, run_gateway, serve
from tests.pki import PKI, cert_and_key, cert_id, cert_pem, write


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def classic(api_id: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": f"/{api_id}/", "target_url": upstream, "strip_listen_path": True},
        **extra,
    }


def oas_mtls(api_id: str, upstream: str, allow: list[str]) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": api_id, "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": api_id, "name": api_id, "state": {"active": True}},
            "server": {
                "listenPath": {"value": f"/{api_id}/", "strip": True},
                "clientCertificates": {"enabled": True, "allowlist": allow},
            },
            "upstream": {"url": upstream},
        },
    }


async def test_the_gateway_serves_https(pki: PKI, tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        config = {"http_server_options": pki.server_config(tmp_path)}
        api = classic("open", upstream.url)
        async with run_gateway(tmp_path, apis=[api], config=config, verify=pki.client_context()) as gw:
            assert gw.url.startswith("https://127.0.0.1:")
            resp = await gw.client.get("/open/hello")
            hello = await gw.client.get("/hello")
    assert resp.status_code == 200 and resp.json()["path"] == "/hello"
    assert resp.json()["client_cert_id"] == ""  # the upstream is plain HTTP
    assert hello.status_code == 200


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_mutual_tls_per_api(pki: PKI, tmp_path: Path, fmt: str) -> None:
    alice, bob = pki.client("alice"), pki.client("bob")
    alice_file = write(tmp_path, "alice.pem", cert_pem(alice))
    bob_file = write(tmp_path, "bob.pem", cert_pem(bob))
    async with await serve(echo_app) as upstream:
        secured = (
            classic("secured", upstream.url, use_mutual_tls_auth=True, client_certificates=[alice_file])
            if fmt == "classic"
            else oas_mtls("secured", upstream.url, [alice_file])
        )
        other = classic("other", upstream.url, use_mutual_tls_auth=True, client_certificates=[bob_file])
        config = {"http_server_options": pki.server_config(tmp_path)}
        async with run_gateway(
            tmp_path, apis=[secured, other], config=config, verify=pki.client_context()
        ) as gw:
            missing = await gw.client.get("/secured/x")
            async with httpx.AsyncClient(verify=pki.client_context(bob)) as as_bob:
                wrong = await as_bob.get(gw.url + "/secured/x")
                bobs_own = await as_bob.get(gw.url + "/other/x")
            async with httpx.AsyncClient(verify=pki.client_context(alice)) as as_alice:
                allowed = await as_alice.get(gw.url + "/secured/x")
            stranger = pki.client("mallory")
            async with httpx.AsyncClient(verify=pki.client_context(stranger)) as as_stranger:
                # Listed by no API: refused in the handshake (OpenSSL verifies what it asks for); with
                # TLS 1.3 the client learns it on its first read.
                with pytest.raises((httpx.ConnectError, httpx.ReadError)):
                    await as_stranger.get(gw.url + "/secured/x")
    assert missing.status_code == 403
    assert missing.json() == {"error": "Client TLS certificate is required"}
    assert wrong.status_code == 403
    assert wrong.json() == {"error": f"Certificate with SHA256 {cert_id(bob)} not allowed"}
    assert allowed.status_code == 200 and allowed.json()["path"] == "/x"
    assert bobs_own.status_code == 200


async def test_upstream_client_certificate(pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The gateway trusts upstreams through the system store, which SSL_CERT_FILE replaces (as operators do).
    monkeypatch.setenv("SSL_CERT_FILE", pki.trust_file(tmp_path))
    gateway_cert = pki.client("gateway-to-upstream")
    ref = write(tmp_path, "upstream-client.pem", cert_and_key(gateway_cert))
    strict = pki.server_context(require_client_cert=True)
    async with await serve(echo_app, ssl=strict) as upstream:
        assert upstream.url.startswith("https://")
        with_cert = classic("mtls-up", upstream.url, upstream_certificates={"127.0.0.1": ref})
        oas_up = oas_mtls("oas-up", upstream.url, [])
        oas_up["x-tyk-api-gateway"]["server"].pop("clientCertificates")
        oas_up["x-tyk-api-gateway"]["upstream"]["mutualTLS"] = {
            "enabled": True,
            "domainToCertificateMapping": [{"domain": "*", "certificate": ref}],
        }
        without = classic("plain-up", upstream.url)
        async with run_gateway(tmp_path, apis=[with_cert, oas_up, without]) as gw:
            seen = await gw.client.get("/mtls-up/who")
            seen_oas = await gw.client.get("/oas-up/who")
            refused = await gw.client.get("/plain-up/who")
    assert seen.status_code == 200 and seen.json()["client_cert_id"] == cert_id(gateway_cert)
    assert seen_oas.status_code == 200 and seen_oas.json()["client_cert_id"] == cert_id(gateway_cert)
    assert refused.status_code == 500  # the upstream ends the handshake without a client certificate


async def test_a_listed_ca_admits_what_it_signed_and_plain_http_is_refused(pki: PKI, tmp_path: Path) -> None:
    other_ca = PKI()
    ca_file = write(tmp_path, "ca.pem", pki.ca.cert_pem.bytes())
    async with await serve(echo_app) as upstream:
        api = classic("by-ca", upstream.url, use_mutual_tls_auth=True, client_certificates=[ca_file])
        config = {"http_server_options": pki.server_config(tmp_path)}
        async with run_gateway(tmp_path, apis=[api], config=config, verify=pki.client_context()) as gw:
            async with httpx.AsyncClient(verify=pki.client_context(pki.client("signed"))) as signed:
                admitted = await signed.get(gw.url + "/by-ca/x")
            foreign = other_ca.client("foreign")
            ctx = pki.client_context()
            foreign.configure_cert(ctx)
            async with httpx.AsyncClient(verify=ctx) as stranger:
                with pytest.raises((httpx.ConnectError, httpx.ReadError)):
                    await stranger.get(gw.url + "/by-ca/x")
        async with run_gateway(tmp_path / "plain", apis=[api]) as plain:
            refused = await plain.client.get("/by-ca/x")
    assert admitted.status_code == 200
    assert refused.status_code == 403 and refused.json() == {"error": "TLS not enabled"}
