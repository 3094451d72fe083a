"""Prometheus metrics end to end (tyk.conf `metrics`): known traffic through a real gateway, then /metrics
scraped on the gateway's listener (behind the admin secret) and on its own port, and every family checked
against what the test did. With metrics off, /metrics is an ordinary unknown path and nothing is built.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.testing import ControlledUpstream, RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from gateway.testing.servers import unused_port
from tests.e2e.conftest import hooks_per_event
from tests.e2e.test_breakers import classic_api
from tests.e2e.test_versions import base_child


def api(upstream: str, hook: str) -> dict[str, Any]:
    return {
        "api_id": "met",
        "org_id": "org1",
        "name": "met",
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/met/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks_per_event(hook, ["RatelimitExceeded"])},
    }


async def new_key(gw: RunningGateway) -> str:
    rights = {"met": {"api_id": "met", "api_name": "met", "versions": ["Default"]}}
    body = {"org_id": "org1", "rate": 2, "per": 60, "quota_max": -1, "access_rights": rights}
    created = await gw.admin("POST", "/tyk/keys", json=body)
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_match_the_traffic(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    port = unused_port()
    config = {"metrics": {"enabled": True, "listen_port": port}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            key = await new_key(gw)
            statuses = [
                (await gw.client.get("/met/x", headers={"Authorization": key})).status_code for _ in range(3)
            ]
            assert statuses == [200, 200, 429]
            bad = await gw.client.post("/met/x", headers={"Authorization": "no-such-key"})
            assert bad.status_code == 403
            missing = await gw.client.get("/met/x")
            assert missing.status_code == 401
            await recorder.wait_for(1)
            await gw.idle()

            refused = await gw.client.get("/metrics")
            assert refused.status_code == 403
            wrong = await gw.client.get("/metrics", headers={"x-tyk-authorization": "wrong"})
            assert wrong.status_code == 403
            scraped = await gw.client.get("/metrics", headers=gw.admin_headers)
            assert scraped.status_code == 200
            assert scraped.headers["content-type"].startswith("text/plain")
            found = samples(scraped.text)

            req = "http_server_request_duration_seconds_count"
            api_get = {"api_id": "met", "http_request_method": "GET"}
            assert value(found, req, **api_get, http_response_status_code="200") == 2
            assert value(found, req, **api_get, http_response_status_code="429") == 1
            assert value(found, req, **api_get, http_response_status_code="401") == 1
            assert (
                value(found, req, api_id="met", http_request_method="POST", http_response_status_code="403")
                == 1
            )
            assert value(found, "http_client_request_duration_seconds_count", api_id="met") == 2
            assert value(found, "tyk_gateway_request_gateway_duration_seconds_count", api_id="met") == 2
            own = value(found, "tyk_gateway_request_gateway_duration_seconds_sum", api_id="met")
            total = sum(
                v
                for (name, labels), v in found.items()
                if name == "http_server_request_duration_seconds_sum"
                and ("http_response_status_code", "200") in labels
            )
            assert 0 < own < total  # the gateway's share of the proxied requests' time
            assert value(found, "tyk_gateway_rejections_total", api_id="met", reason="rate") == 1
            assert value(found, "tyk_gateway_rejections_total", api_id="met", reason="auth") == 2
            assert value(found, "tyk_gateway_events_total", event="RatelimitExceeded") == 1
            assert value(found, "tyk_gateway_webhook_deliveries_total", outcome="delivered") == 1
            assert value(found, "tyk_gateway_webhook_deliveries_total", outcome="given_up") == 0
            assert value(found, "tyk_gateway_event_queue_depth") == 0
            assert value(found, "tyk_gateway_webhook_outbox_backlog") == 0
            assert value(found, "tyk_gateway_upstream_hosts_down") == 0
            assert value(found, "tyk_gateway_webhook_attempts_total", result="success") == 1
            assert value(found, "tyk_gateway_webhook_attempts_total", result="failure") == 0
            assert value(found, "tyk_gateway_webhook_outbox_oldest_age_seconds") == 0
            assert 0 < value(found, "tyk_gateway_store_roundtrip_seconds") < 5
            # Neither the key nor the path is a label.
            assert key not in scraped.text and "/met/x" not in scraped.text

            # The port of its own: no secret, the same families; any other path is 404.
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as scraper:
                own = await scraper.get("/metrics")
                assert own.status_code == 200
                assert value(samples(own.text), req, **api_get, http_response_status_code="200") == 2
                assert (await scraper.get("/other")).status_code == 404
        # Closed with the gateway.
        try:
            await asyncio.open_connection("127.0.0.1", port)
            raise AssertionError("the metrics port is still open after stop")
        except OSError:
            pass


async def test_metrics_off_by_default(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[api(upstream.url, "http://127.0.0.1:9/hook")]) as gw:
            resp = await gw.client.get("/metrics", headers=gw.admin_headers)
            assert resp.status_code == 404  # an unknown path, as Tyk answers it
            assert gw.gateway._metered is None
            assert all(type(route).__name__ == "APIRoute" for route in gw.gateway._table.routes)


async def test_a_tripped_breaker_is_a_gauge_and_its_refusals_a_reason(tmp_path: Path) -> None:
    upstream, recorder = ControlledUpstream(), WebhookRecorder()
    async with await serve(upstream) as up, await serve(recorder) as hook:
        apis = [classic_api(up.url, hook.url, half_open=False, cool_down=60)]
        config = {"metrics": {"enabled": True}}
        async with run_gateway(tmp_path, apis=apis, config=config) as gw:
            upstream.fail(500)
            codes = [(await gw.client.get("/brk/items/1")).status_code for _ in range(4)]
            assert codes == [500, 500, 503, 503]
            found = samples((await gw.client.get("/metrics", headers=gw.admin_headers)).text)
            assert value(found, "tyk_gateway_circuit_breakers_open", api_id="brk-classic") == 1
            assert value(found, "tyk_gateway_rejections_total", api_id="brk-classic", reason="breaker") == 2
            req = "http_server_request_duration_seconds_count"
            get = {"api_id": "brk-classic", "http_request_method": "GET"}
            assert value(found, req, **get, http_response_status_code="500") == 2
            assert value(found, req, **get, http_response_status_code="503") == 2


async def test_a_request_handed_to_a_child_version_is_counted_once(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream, await serve(WebhookRecorder()) as hook:
        apis = base_child("classic", upstream.url, tmp_path, hook.url)
        async with run_gateway(tmp_path, apis=apis, config={"metrics": {"enabled": True}}) as gw:
            for version in ("v1", "v2", "v9"):
                await gw.client.get("/base/items", headers={"x-api-version": version})
            found = samples((await gw.client.get("/metrics", headers=gw.admin_headers)).text)
    req = "http_server_request_duration_seconds_count"
    assert value(found, req, api_id="base", http_request_method="GET", http_response_status_code="200") == 1
    assert (
        value(found, req, api_id="child-2", http_request_method="GET", http_response_status_code="200") == 1
    )
    assert value(found, req, api_id="base", http_request_method="GET", http_response_status_code="404") == 1
    assert value(found, "tyk_gateway_rejections_total", api_id="base", reason="version") == 1
    total = sum(v for (name, _), v in found.items() if name == req)
    assert total == 3


async def test_a_failing_receiver_shows_in_attempts_and_the_oldest_pending_age(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    """The receiver answers 500: each attempt is a failure, and the delivery waiting for its next attempt
    is the outbox's oldest, its age growing; on Redis the age is read from the stream entry's id."""
    recorder = WebhookRecorder(status=500)
    retry = {"retry_base_delay": 30, "retry_max_delay": 30}
    config = {**store_config, "metrics": {"enabled": True}, "events": retry}
    failures = "tyk_gateway_webhook_attempts_total"

    async def scrape(gw: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return samples((await gw.client.get("/metrics", headers=gw.admin_headers)).text)

    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            key = await new_key(gw)
            for _ in range(3):
                await gw.client.get("/met/x", headers={"Authorization": key})
            await recorder.wait_for(1)
            deadline = asyncio.get_running_loop().time() + 10
            while value(first := await scrape(gw), failures, result="failure") < 1:
                assert asyncio.get_running_loop().time() < deadline, "the failed attempt was not counted"
            then = await scrape(gw)
    age = "tyk_gateway_webhook_outbox_oldest_age_seconds"
    assert value(then, failures, result="failure") == 1
    assert value(then, failures, result="success") == 0
    assert value(then, "tyk_gateway_webhook_outbox_backlog") == 1
    assert 0 < value(first, age) <= value(then, age) < 30
