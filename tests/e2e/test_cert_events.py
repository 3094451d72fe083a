"""CertificateExpiringSoon and CertificateExpired end to end, on both stores: fired by a mutual TLS
request (Tyk: the whole allow list is checked), once per cooldown, by the load-time scan for a
certificate no request used yet, and once across two gateways sharing Redis."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.pki import PKI, cert_and_key, cert_id, cert_pem, write

EXPIRING = (
    '{"type": "{{.Type}}", "message": "{{.Meta.Message}}", "cert_id": "{{.Meta.CertID}}", '
    '"cert_name": "{{.Meta.CertName}}", "days": {{.Meta.DaysRemaining}}, "api_id": "{{.Meta.APIID}}", '
    '"role": "{{.Meta.CertRole}}"}'
)
EXPIRED = (
    '{"type": "{{.Type}}", "message": "{{.Meta.Message}}", "cert_id": "{{.Meta.CertID}}", '
    '"days": {{.Meta.DaysSinceExpiry}}, "api_id": "{{.Meta.APIID}}", "role": "{{.Meta.CertRole}}"}'
)


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def hooks(tmp_path: Path, url: str) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for event, template in (("CertificateExpiringSoon", EXPIRING), ("CertificateExpired", EXPIRED)):
        (tmp_path / "templates").mkdir(exist_ok=True)  # template_path: templates must be inside it
        path = write(tmp_path, f"templates/{event}.json", template.encode())
        meta = {"method": "POST", "target_path": url, "template_path": path, "event_timeout": 0}
        out[event] = [{"handler_name": "eh_web_hook_handler", "handler_meta": meta}]
    return out


def api(api_id: str, upstream: str, hook_events: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "org_id": "org9",
        "use_keyless": True,
        "proxy": {"listen_path": f"/{api_id}/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hook_events},
        **extra,
    }


async def test_a_mutual_tls_request_checks_the_whole_allow_list(
    pki: PKI, tmp_path: Path, store_config: dict[str, Any]
) -> None:
    alice = pki.client("alice")
    soon = pki.client("soon.example", days=5 + 2.5 / 24)
    old = pki.client("old.example", days=-(3 + 5.5 / 24), start_days_ago=30)
    allow = [write(tmp_path, f"{n}.pem", cert_pem(c)) for n, c in (("a", alice), ("s", soon), ("o", old))]
    recorder = WebhookRecorder()
    config = {
        **store_config,
        "http_server_options": pki.server_config(tmp_path),
        "security": {"certificate_expiry_monitor": {"scan_configured": False}},
    }
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        definition = api(
            "mtls",
            upstream.url,
            hooks(tmp_path, hook.url + "/cert"),
            use_mutual_tls_auth=True,
            client_certificates=allow,
        )
        async with run_gateway(tmp_path, apis=[definition], config=config) as gw:
            await gw.gateway.parts.cert_monitor.idle()
            assert recorder.deliveries == []  # nothing is checked before a request uses the API
            async with httpx.AsyncClient(verify=pki.client_context(alice)) as client:
                first = await client.get(gw.url + "/mtls/x")
                await recorder.wait_for(2)
                second = await client.get(gw.url + "/mtls/y")
            await gw.gateway.parts.cert_monitor.idle()
            await gw.idle()
    assert first.status_code == 200 and second.status_code == 200
    bodies = sorted((d.json() for d in recorder.deliveries), key=lambda b: b["type"])
    assert bodies == [
        {
            "type": "CertificateExpired",
            "message": "Certificate old.example is expired since 3 days and 5 hours",
            "cert_id": cert_id(old),
            "days": 3,
            "api_id": "mtls",
            "role": "client",
        },
        {
            "type": "CertificateExpiringSoon",
            "message": "Certificate soon.example is expiring in 5 days and 2 hours",
            "cert_id": cert_id(soon),
            "cert_name": "soon.example",
            "days": 5,
            "api_id": "mtls",
            "role": "client",
        },
    ]


async def test_the_load_scan_reports_an_unused_upstream_certificate(
    pki: PKI, tmp_path: Path, store_config: dict[str, Any]
) -> None:
    soon = pki.client("upstream.example", days=10 + 12.5 / 24)
    ref = write(tmp_path, "up.pem", cert_and_key(soon))
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        definition = api(
            "up",
            "https://127.0.0.1:1/",
            hooks(tmp_path, hook.url + "/cert"),
            upstream_certificates={"*": ref},
        )
        async with run_gateway(tmp_path, apis=[definition], config=store_config) as gw:
            (delivery,) = await recorder.wait_for(1)
            await gw.gateway.parts.cert_monitor.idle()
            await gw.idle()
            assert len(recorder.deliveries) == 1
    body = delivery.json()
    assert body["type"] == "CertificateExpiringSoon" and body["role"] == "upstream" and body["api_id"] == "up"
    assert body["message"] == "Certificate upstream.example is expiring in 10 days and 12 hours"


async def test_the_load_scan_reports_an_upstream_certificate_of_a_plain_http_api(
    pki: PKI, tmp_path: Path, store_config: dict[str, Any]
) -> None:
    # An http target is never shown the certificate, but it is configured: the scan must still see it.
    soon = pki.client("plain.example", days=3)
    ref = write(tmp_path, "plain.pem", cert_and_key(soon))
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook, await serve(echo_app) as upstream:
        assert upstream.url.startswith("http://")
        definition = api(
            "plain", upstream.url, hooks(tmp_path, hook.url + "/cert"), upstream_certificates={"*": ref}
        )
        async with run_gateway(tmp_path, apis=[definition], config=store_config) as gw:
            (delivery,) = await recorder.wait_for(1)
            await gw.gateway.parts.cert_monitor.idle()
            await gw.idle()
            assert len(recorder.deliveries) == 1
    body = delivery.json()
    assert (body["type"], body["role"], body["api_id"]) == ("CertificateExpiringSoon", "upstream", "plain")
    assert (body["cert_id"], body["days"]) == (cert_id(soon), 2)  # 3 days less the seconds since issue


async def test_the_load_scan_reports_tyk_conf_upstream_certificates_with_only_http_apis(
    pki: PKI, tmp_path: Path, store_config: dict[str, Any]
) -> None:
    # tyk.conf's `security.certificates.upstream` is configured too, though no API here presents it.
    soon = pki.client("global.example", days=3)
    ref = write(tmp_path, "global.pem", cert_and_key(soon))
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook, await serve(echo_app) as upstream:
        config = {
            **store_config,
            "security": {"certificates": {"upstream": {"*": ref}}},
            "event_handlers": {"events": hooks(tmp_path, hook.url + "/g")},
        }
        async with run_gateway(tmp_path, apis=[api("web", upstream.url, {})], config=config) as gw:
            (delivery,) = await recorder.wait_for(1)
            assert (await gw.client.get("/web/x")).status_code == 200
    body = delivery.json()
    assert (body["type"], body["role"], body["api_id"]) == ("CertificateExpiringSoon", "upstream", "")
    assert body["cert_id"] == cert_id(soon)


async def test_a_bad_upstream_certificate_the_target_never_uses_is_logged_not_fatal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with await serve(echo_app) as upstream:
        definition = api("odd", upstream.url, {}, upstream_certificates={"other.example": "missing.pem"})
        async with run_gateway(tmp_path, apis=[definition]) as gw:
            resp = await gw.client.get("/odd/x")
    assert resp.status_code == 200
    assert "$.upstream_certificates.other.example: certificate 'missing.pem'" in caplog.text


async def test_two_gateways_sharing_redis_fire_once(pki: PKI, tmp_path: Path, redis_flush: Any) -> None:
    soon = pki.client("shared.example", days=3)
    ref = write(tmp_path, "shared.pem", cert_and_key(soon))
    recorder = WebhookRecorder()
    config = {"storage": {"type": "redis", "host": redis_flush.host, "port": redis_flush.port}}
    config["template_path"] = "../templates"  # both gateways' folders are below the shared templates
    async with await serve(recorder) as hook:
        definition = api(
            "shared",
            "https://127.0.0.1:1/",
            hooks(tmp_path, hook.url + "/c"),
            upstream_certificates={"*": ref},
        )
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        async with run_gateway(tmp_path / "one", apis=[definition], config=config) as one:
            async with run_gateway(tmp_path / "two", apis=[definition], config=config) as two:
                await recorder.wait_for(1)
                for gw in (one, two):
                    await gw.gateway.parts.cert_monitor.idle()
                    await gw.idle()
    assert len(recorder.deliveries) == 1


async def test_an_expiring_server_certificate_reaches_tyk_conf_handlers(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    short = pki.ca.issue_cert(
        "127.0.0.1", common_name="short.gateway", not_after=now + timedelta(days=2, hours=3.5)
    )
    options = {
        "use_ssl": True,
        "certificates": [
            {
                "cert_file": write(tmp_path, "s.pem", short.cert_chain_pems[0].bytes()),
                "key_file": write(tmp_path, "s.key", short.private_key_pem.bytes()),
            }
        ],
    }
    recorder = WebhookRecorder()
    caplog.set_level(logging.WARNING)
    async with await serve(recorder) as hook:
        config = {
            "http_server_options": options,
            "event_handlers": {"events": hooks(tmp_path, hook.url + "/s")},
        }
        async with run_gateway(tmp_path, config=config, verify=pki.client_context()) as gw:
            (delivery,) = await recorder.wait_for(1)
            assert (await gw.client.get("/hello")).status_code == 200
    assert delivery.json() == {
        "type": "CertificateExpiringSoon",
        "message": "Certificate short.gateway is expiring in 2 days and 3 hours",
        "cert_id": cert_id(short),
        "cert_name": "short.gateway",
        "days": 2,
        "api_id": "",
        "role": "server",
    }
    assert "never fire" not in caplog.text  # tyk.conf is where server certificate events belong
