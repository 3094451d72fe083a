"""The seed's scenario, exactly, on both definition formats and both stores.

A keyless API limited to 2 per 10 s with a local webhook on RatelimitExceeded (a custom header, the
default template): three requests answer 200, 200, 429, and exactly one POST arrives carrying that
header and a JSON body naming the event, the path and the origin.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import SEEDS


@pytest.mark.parametrize("fmt", ["oas", "classic"])
async def test_seed_scenario(tmp_path: Path, fmt: str, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = SEEDS[fmt](upstream.url + "/", hook.url + "/webhook")
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(3)]
            assert codes == [200, 200, 429]
            (delivery,) = await recorder.wait_for(1)
            await gw.idle()
            assert len(recorder.deliveries) == 1
    assert delivery.method == "POST" and delivery.path == "/webhook"
    assert delivery.headers["x-tyk"] == "example-local-webhook"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.headers["user-agent"] == "Tyk-Hookshot"
    body = delivery.json()
    api_id = "seed-oas" if fmt == "oas" else "seed-classic"
    assert body == {
        "event": "RatelimitExceeded",
        "message": "API Rate Limit Exceeded",
        "path": "/example-local-webhook/get",
        "origin": "127.0.0.1",
        "key": f"apilimiter-{api_id}",
    }


async def test_the_429_body_and_the_proxied_response(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        api = SEEDS["classic"](upstream.url + "/base", "http://127.0.0.1:1/unused")
        async with run_gateway(tmp_path, apis=[api]) as gw:
            ok = await gw.client.get("/example-local-webhook/get?x=1")
            await gw.client.get("/example-local-webhook/get")
            limited = await gw.client.get("/example-local-webhook/get")
    echoed = ok.json()
    assert echoed["path"] == "/base/get" and echoed["query"] == "x=1"
    assert ok.headers["x-ratelimit-limit"] == "0"  # Tyk's `quotas` headers: zeros for keyless APIs
    assert limited.status_code == 429
    assert limited.text == '{\n    "error": "API Rate Limit Exceeded"\n}'
    assert limited.headers["content-type"] == "application/json"
    assert limited.headers["x-generator"] == "tyk.io"


async def test_originating_request_carries_the_rejected_request(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        template = tmp_path / "templates" / "orig.json"  # inside template_path, where templates must be
        template.parent.mkdir()
        template.write_text('{"orig": "{{.Meta.OriginatingRequest}}"}')
        api = SEEDS["classic"]("http://127.0.0.1:1/", hook.url + "/w")
        api["global_rate_limit"] = {"rate": 1, "per": 10}
        meta = api["event_handlers"]["events"]["RatelimitExceeded"][0]["handler_meta"]
        meta["template_path"] = str(template)
        async with run_gateway(tmp_path, apis=[api]) as gw:
            await gw.client.post("/example-local-webhook/a", content=b"first")  # upstream down: 500
            await gw.client.post("/example-local-webhook/b?q=1", content=b"hello", headers={"X-Thing": "1"})
            (delivery,) = await recorder.wait_for(1)
    wire = base64.b64decode(delivery.json()["orig"])
    head, _, body = wire.partition(b"\r\n\r\n")
    assert head.startswith(b"POST /example-local-webhook/b?q=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nX-Thing: 1" in head and b"\r\nContent-Length: 5" in head
    assert body == b"hello"
