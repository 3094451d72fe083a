"""Uptime checks end to end, both formats and both stores: a failing health check fires exactly one
HostDown per outage and one HostUp on recovery (edge-triggered, TYK-REFERENCE 11.8), the load balancer
skips the down host and answers Tyk's plain-text 503 when all are down; two gateways on one Redis
check once between them, and the one that is not checking skips down hosts too."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import ControlledUpstream, RunningGateway, WebhookRecorder, run_gateway, serve

# Two failed rounds make a host down; rounds 0.2 s apart keep the whole scenario within seconds.
CONFIG = {"uptime_tests": {"config": {"time_wait": 0.2, "failure_trigger_sample_size": 2}}}


def classic_api(a: str, b: str, hook: str) -> dict[str, Any]:
    webhook = {
        "handler_name": "eh_web_hook_handler",
        "handler_meta": {"method": "POST", "target_path": hook, "event_timeout": 0},  # no cooldown
    }
    return {
        "api_id": "uptime-classic",
        "name": "uptime",
        "org_id": "org1",
        "use_keyless": True,
        "proxy": {
            "listen_path": "/lb/",
            "target_url": a,
            "strip_listen_path": True,
            "enable_load_balancing": True,
            "check_host_against_uptime_tests": True,
            "target_list": [a, b],
        },
        "uptime_tests": {
            "check_list": [{"url": f"{u}/health", "timeout": 1_000_000_000} for u in (a, b)],
        },
        "event_handlers": {"events": {"HostDown": [webhook], "HostUp": [webhook]}},
    }


def oas_api(a: str, b: str, hook: str) -> dict[str, Any]:
    handlers = [
        {
            "enabled": True,
            "trigger": event,
            "type": "webhook",
            "url": hook,
            "method": "POST",
            "cooldownPeriod": "0s",
        }
        for event in ("HostDown", "HostUp")
    ]
    return {
        "openapi": "3.0.3",
        "info": {"title": "uptime", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": "uptime-oas", "name": "uptime", "orgId": "org1", "state": {"active": True}},
            "server": {"listenPath": {"value": "/lb/", "strip": True}, "eventHandlers": handlers},
            "upstream": {
                "url": a,
                "uptimeTests": {
                    "enabled": True,
                    "tests": [{"url": f"{u}/health", "timeout": "1s"} for u in (a, b)],
                },
                "loadBalancing": {
                    "enabled": True,
                    "skipUnavailableHosts": True,
                    "targets": [{"url": a, "weight": 1}, {"url": b, "weight": 1}],
                },
            },
        },
    }


async def rounds(upstream: ControlledUpstream, count: int = 3, timeout: float = 10.0) -> None:
    """Return once the checker has probed `upstream` `count` more times: a bounded poll, not a sleep."""
    loop = asyncio.get_running_loop()
    target, deadline = upstream.hits["/health"] + count, loop.time() + timeout
    while upstream.hits["/health"] < target:
        assert loop.time() < deadline, f"fewer than {count} uptime checks in {timeout} s"
        await asyncio.sleep(0.02)  # bounded poll of the upstream's hit counter


async def spread(client: httpx.AsyncClient, a: ControlledUpstream, b: ControlledUpstream) -> tuple[int, int]:
    """Send 4 requests; how many reached a and b."""
    before = (a.total - a.hits["/health"], b.total - b.hits["/health"])
    for _ in range(4):
        assert (await client.get("/lb/x")).status_code == 200
    return a.total - a.hits["/health"] - before[0], b.total - b.hits["/health"] - before[1]


def events(recorder: WebhookRecorder) -> list[tuple[str, str]]:
    return sorted((d.json()["event"], d.json()["url"]) for d in recorder.deliveries)


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_host_down_up_and_load_balancing(
    tmp_path: Path, fmt: str, store_config: dict[str, Any]
) -> None:
    a, b, recorder = ControlledUpstream(), ControlledUpstream(), WebhookRecorder()
    async with await serve(a) as sa, await serve(b) as sb, await serve(recorder) as hook:
        api = (classic_api if fmt == "classic" else oas_api)(sa.url, sb.url, hook.url + "/hook")
        api_id = f"uptime-{fmt}"
        async with run_gateway(tmp_path, apis=[api], config={**CONFIG, **store_config}) as gw:
            await rounds(a, 1)
            assert await spread(gw.client, a, b) == (2, 2)  # round-robin over both targets
            assert recorder.deliveries == []  # healthy hosts fire nothing

            a.fail(500, prefix="/health")
            (down,) = await recorder.wait_for(1)
            await rounds(a)  # more failed rounds: still one HostDown for this outage
            await gw.idle()
            assert events(recorder) == [("HostDown", f"{sa.url}/health")]
            assert down.json() == {
                "event": "HostDown",
                "message": "Uptime test failed",
                "url": f"{sa.url}/health",
                "response_code": "500",
                "tcp_error": "false",
                "host": sa.url.removeprefix("http://"),
                "api_id": api_id,
            }
            assert await spread(gw.client, a, b) == (0, 4)  # the down host is skipped

            b.fail(503, prefix="/health")
            await recorder.wait_for(2)
            await rounds(b, 2)
            all_down = await gw.client.get("/lb/x")
            assert all_down.status_code == 503 and all_down.text == "all hosts are down\n"
            assert all_down.headers["content-type"] == "text/plain; charset=utf-8"

            a.recover()
            b.recover()
            await recorder.wait_for(4)
            await asyncio.gather(rounds(a), rounds(b))
            await gw.idle()
            assert events(recorder) == sorted(
                (event, f"{s.url}/health") for event in ("HostDown", "HostUp") for s in (sa, sb)
            )
            up = next(d.json() for d in recorder.deliveries if d.json()["event"] == "HostUp")
            assert (up["message"], up["response_code"], up["api_id"]) == (
                "Uptime test succeeded",
                "200",
                api_id,
            )
            assert await spread(gw.client, a, b) == (2, 2)


async def test_two_gateways_on_one_redis_fire_one_host_down(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    store = {"storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port}}
    a, b, recorder = ControlledUpstream(), ControlledUpstream(), WebhookRecorder()
    async with await serve(a) as sa, await serve(b) as sb, await serve(recorder) as hook:
        api = classic_api(sa.url, sb.url, hook.url + "/hook")
        async with (
            run_gateway(tmp_path / "g1", apis=[api], config={**CONFIG, **store}) as g1,
            run_gateway(tmp_path / "g2", apis=[api], config={**CONFIG, **store}) as g2,
        ):
            gateways: list[RunningGateway] = [g1, g2]
            a.fail(500, prefix="/health")
            await recorder.wait_for(1)
            await rounds(a, 4)
            for gw in gateways:
                await gw.idle()
            assert events(recorder) == [("HostDown", f"{sa.url}/health")]
            leaders = [gw.gateway.parts.uptime.leader for gw in gateways]
            assert sorted(leaders) == [False, True]  # exactly one checks
            for gw in gateways:  # the leader knows from memory, the other reads the marker
                assert await spread(gw.client, a, b) == (0, 4)


async def test_a_bad_uptime_definition_is_skipped_by_name_and_the_rest_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = ControlledUpstream(), ControlledUpstream()
    async with await serve(a) as sa, await serve(b) as sb:
        bad = classic_api(sa.url, sb.url, "http://127.0.0.1:1/hook")
        bad["api_id"], bad["proxy"]["listen_path"] = "bad", "/bad/"
        bad["uptime_tests"]["check_list"][1]["url"] = "ftp://files.local/health"
        good = classic_api(sa.url, sb.url, "http://127.0.0.1:1/hook")
        async with run_gateway(tmp_path, apis=[good, bad], config=CONFIG, http=False) as gw:
            assert (await gw.client.get("/lb/x")).status_code == 200
            assert (await gw.client.get("/bad/x")).status_code == 404
            assert [s.api_id for s in gw.gateway.specs()] == ["uptime-classic"]
    assert "$.uptime_tests.check_list[1].url" in caplog.text and "ftp://files.local/health" in caplog.text
