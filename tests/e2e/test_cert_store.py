"""Certificates by store id and bad certificate references, end to end: an uploaded certificate used by
an API after a reload; a missing file, a file that is not PEM or an unknown id skips only that API,
naming the file, the JSON path and the value; a bad server certificate stops the start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app.gateway import Gateway
from gateway.config.model import from_dict
from gateway.errors import ConfigError
from gateway.testing import echo_app, run_gateway, serve
from tests.pki import PKI, cert_pem, write


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def mtls(api_id: str, upstream: str, allow: list[str]) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "use_mutual_tls_auth": True,
        "client_certificates": allow,
        "proxy": {"listen_path": f"/{api_id}/", "target_url": upstream, "strip_listen_path": True},
    }


async def test_an_uploaded_certificate_referenced_by_id(
    pki: PKI, tmp_path: Path, store_config: dict[str, Any]
) -> None:
    alice = pki.client("alice")
    config = {**store_config, "http_server_options": pki.server_config(tmp_path)}
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, config=config, verify=pki.client_context()) as gw:
            added = await gw.admin("POST", "/tyk/certs", content=cert_pem(alice))
            cert_ref = added.json()["id"]
            posted = await gw.admin("POST", "/tyk/apis", json=mtls("by-id", upstream.url, [cert_ref]))
            assert posted.status_code == 200
            assert (await gw.admin("GET", "/tyk/reload?block=true")).status_code == 200
            async with httpx.AsyncClient(verify=pki.client_context(alice)) as as_alice:
                allowed = await as_alice.get(gw.url + "/by-id/x")
    assert allowed.status_code == 200


async def test_bad_certificate_references_skip_only_their_api(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = str(tmp_path / "missing.pem")
    junk = write(tmp_path, "junk.pem", b"this is not a certificate")
    unknown = "e" * 64
    caplog.set_level(logging.WARNING)
    async with await serve(echo_app) as upstream:
        apis = [
            mtls("missing", upstream.url, [missing]),
            mtls("junk", upstream.url, [junk]),
            {
                **mtls("unknown", upstream.url, []),
                "use_mutual_tls_auth": False,
                "upstream_certificates": {"*": unknown},
            },
            {**mtls("good", upstream.url, []), "use_mutual_tls_auth": False},
        ]
        apis[2]["proxy"]["target_url"] = "https://127.0.0.1:1/"
        async with run_gateway(tmp_path, apis=apis) as gw:
            assert [s.api_id for s in gw.gateway.specs()] == ["good"]
            assert (await gw.client.get("/good/x")).status_code == 200
            assert (await gw.client.get("/missing/x")).status_code == 404
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert any("000-missing.json" in m and "$.client_certificates[0]" in m and missing in m for m in lines)
    assert any("001-junk.json" in m and "It should be PEM encoded" in m and junk in m for m in lines)
    assert any("002-unknown.json" in m and "$.upstream_certificates.*" in m and unknown in m for m in lines)


def test_a_bad_server_certificate_stops_the_start(pki: PKI, tmp_path: Path) -> None:
    options = pki.server_config(tmp_path)
    options["certificates"][0]["cert_file"] = write(tmp_path, "bad.pem", b"nope")
    cfg = from_dict({"http_server_options": options}, base_dir=tmp_path, environ={})
    with pytest.raises(ConfigError, match=r"http_server_options.certificates\[0\].*PEM"):
        Gateway(cfg)
    missing = from_dict(
        {"http_server_options": {"use_ssl": True, "ssl_certificates": ["nowhere.pem"]}},
        base_dir=tmp_path,
        environ={},
    )
    with pytest.raises(ConfigError, match=r"cannot read 'nowhere\.pem'"):
        Gateway(missing)
