"""Envelopes, asymmetric signatures and digests through the real gateway, on both stores: a CloudEvents
1.0 body whose id is the webhook-id; a handler with a `whsk_` key and a `whsec_` secret, its `v1a`
signature verified with the public key /tyk/webhooks/signing-keys publishes (`cryptography`'s Ed25519)
and its `v1` one with the reference `standardwebhooks`; five identical events in a digest cooldown, one
sent at once and one digest of four (two gateways on Redis adding up to one digest; a stop sending the
pending digest for the next start to deliver); a bad option skips only its handler, named."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

from gateway.delivery import signing
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.test_delivery import api_with_meta
from tests.e2e.test_keys import session


async def limited(gw: Any, refused: int) -> str:
    """A key with a rate of 1 per minute: one request served, then `refused` RatelimitExceeded events."""
    key: str = (await gw.admin("POST", "/tyk/keys", json=session(rate=1, per=60))).json()["key"]
    codes = [
        (await gw.client.get("/keyed/x", headers={"Authorization": key})).status_code
        for _ in range(refused + 1)
    ]
    assert codes == [200] + [429] * refused
    return key


async def test_cloudevents_envelope(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, envelope="cloudevents", redact_keys=True)]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            key = await limited(gw, 1)
            (received,) = await recorder.wait_for(1)
            await gw.idle()
    event = received.json()
    assert received.headers["content-type"] == "application/cloudevents+json"
    assert event["id"] == received.headers["webhook-id"]
    assert {k: event[k] for k in ("specversion", "type", "source", "datacontenttype")} == {
        "specversion": "1.0",
        "type": "io.tyk.gateway.RatelimitExceeded",
        "source": "/tyk/apis/keyed",
        "datacontenttype": "application/json",
    }
    assert event["time"].endswith("Z")
    data = event["data"]
    assert (data["type"], data["api_id"], data["org_id"]) == ("RatelimitExceeded", "keyed", "org1")
    assert data["meta"]["Path"] == "/keyed/x" and key not in received.body.decode()


async def test_v1a_verifies_with_the_published_key_and_v1_beside_it(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    whsk, whpk = signing.generate_ed25519()
    whsec = signing.generate()
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, signing_secrets=[whsk, whsec])]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            published = (await gw.admin("GET", "/tyk/webhooks/signing-keys")).json()
            await limited(gw, 1)
            (received,) = await recorder.wait_for(1)
            await gw.idle()
    assert published == {
        "keys": [
            {
                "api_id": "keyed",
                "event": "RatelimitExceeded",
                "handler": f"{hook.url}/RatelimitExceeded",
                "public_key": whpk,
            }
        ]
    }
    assert whsk not in str(published) and whsec not in str(published)
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(whpk.removeprefix("whpk_")))
    headers = received.headers
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + received.body
    v1a = [s.removeprefix("v1a,") for s in headers["webhook-signature"].split() if s.startswith("v1a,")]
    assert len(v1a) == 1
    public.verify(base64.b64decode(v1a[0]), signed)  # raises InvalidSignature if not ours
    assert Webhook(whsec).verify(received.body, headers)["event"] == "RatelimitExceeded"


async def test_digest_sends_one_at_once_and_one_summing_up(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    # 2 s rather than 1: the five refusals must all fall inside the cooldown on a loaded machine.
    meta = {"event_timeout": 2, "cooldown_mode": "digest"}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, **meta)]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            await limited(gw, 5)
            first, digest = await recorder.wait_for(2, timeout=15.0)
            await gw.idle()
    assert "suppressed_count" not in first.json() and "x-tyk-suppressed-count" not in first.headers
    body = digest.json()
    assert body["suppressed_count"] == 4 and digest.headers["x-tyk-suppressed-count"] == "4"
    assert body["first_suppressed"] <= body["last_suppressed"]
    assert body["event"] == first.json()["event"] == "RatelimitExceeded"
    assert digest.headers["webhook-id"] != first.headers["webhook-id"]
    assert len(recorder.deliveries) == 2


async def test_two_gateways_on_redis_add_up_to_one_digest(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    recorder = WebhookRecorder()
    config = {"storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port}}
    meta = {"event_timeout": 2, "cooldown_mode": "digest"}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, **meta)]
        for folder in ("a", "b"):
            (tmp_path / folder).mkdir()
        async with (
            run_gateway(tmp_path / "a", apis=apis, config=config) as one,
            run_gateway(tmp_path / "b", apis=apis, config=config) as two,
        ):
            key = await limited(one, 1)  # the key and its rate limit live in Redis: shared by both
            for gw in (two, one, two):
                assert (await gw.client.get("/keyed/x", headers={"Authorization": key})).status_code == 429
            first, digest = await recorder.wait_for(2, timeout=15.0)
            await one.idle()
            await two.idle()
    assert digest.json()["suppressed_count"] == 3 and digest.headers["x-tyk-suppressed-count"] == "3"
    assert "suppressed_count" not in first.json() and len(recorder.deliveries) == 2


async def test_a_stop_sends_the_pending_digest_and_a_restart_delivers_it(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    meta = {"event_timeout": 60, "cooldown_mode": "digest"}  # the cooldown outlasts the gateway
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api_with_meta(upstream.url, hook.url, **meta)]
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            await limited(gw, 3)
            await recorder.wait_for(1)
            await gw.gateway.parts.bus.idle()  # the two suppressed events are counted
        async with run_gateway(tmp_path, apis=apis, config=store_config) as gw:
            first, digest = await recorder.wait_for(2, timeout=10.0)
            await gw.idle()
    assert digest.json()["suppressed_count"] == 2 and "suppressed_count" not in first.json()
    assert len(recorder.deliveries) == 2


@pytest.mark.parametrize(
    ("meta", "named"),
    [({"envelope": "cloud"}, '"envelope"'), ({"cooldown_mode": "sum"}, '"cooldown_mode"')],
)
async def test_a_bad_option_skips_only_that_handler(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, meta: dict[str, Any], named: str
) -> None:
    caplog.set_level(logging.ERROR)
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api_with_meta(upstream.url, hook.url, **meta)]) as gw:
            await limited(gw, 1)  # the API serves and limits as before
            unknown = await gw.client.get("/keyed/x", headers={"Authorization": "nope-key"})
            assert unknown.status_code == 403
            (received,) = await recorder.wait_for(1)  # AuthFailure's handler still runs
            await gw.idle()
    assert received.path.endswith("/AuthFailure")
    assert any(named in r.getMessage() and "handler skipped" in r.getMessage() for r in caplog.records)
