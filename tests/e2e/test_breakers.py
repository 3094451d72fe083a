"""Circuit breakers end to end, Classic and OAS, on both stores: a failing upstream trips the breaker
(BreakerTriggered + BreakerTripped, once each, default template), further requests get Tyk's 503
without reaching the upstream, and the breaker resets (BreakerTriggered + BreakerReset, once each)
by its return_to_service_after timer with no traffic, or by a half-open probe once the upstream is back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from gateway.chain.circuit_breaker import CircuitBreaker
from gateway.testing import ControlledUpstream, RunningGateway, WebhookRecorder, run_gateway, serve
from gateway.testing.recorder import Delivery

EVENTS = ("BreakerTriggered", "BreakerTripped", "BreakerReset")
UNAVAILABLE = '{\n    "error": "Service temporarily unavailable."\n}'
TEMPLATE = "templates/default_webhook.json"


def classic_api(upstream: str, hook: str, *, half_open: bool, cool_down: int) -> dict[str, Any]:
    breaker = {
        "path": "/items/{id}",
        "method": "GET",
        "threshold_percent": 0.5,
        "samples": 2,
        "return_to_service_after": cool_down,
        "disable_half_open_state": not half_open,
    }
    handlers = {
        event: [
            {
                "handler_name": "eh_web_hook_handler",
                "handler_meta": {"method": "POST", "target_path": hook, "template_path": TEMPLATE},
            }
        ]
        for event in EVENTS
    }
    version = {
        "name": "Default",
        "use_extended_paths": True,
        "extended_paths": {"circuit_breakers": [breaker]},
    }
    return {
        "name": "breaker",
        "api_id": "brk-classic",
        "org_id": "org1",
        "use_keyless": True,
        "active": True,
        "proxy": {"listen_path": "/brk/", "target_url": upstream, "strip_listen_path": True},
        "version_data": {"not_versioned": True, "versions": {"Default": version}},
        "event_handlers": {"events": handlers},
    }


def oas_api(upstream: str, hook: str, *, half_open: bool, cool_down: int) -> dict[str, Any]:
    handlers = [
        {
            "enabled": True,
            "trigger": event,
            "type": "webhook",
            "url": hook,
            "method": "POST",
            "bodyTemplate": TEMPLATE,
        }
        for event in EVENTS
    ]
    breaker = {
        "enabled": True,
        "threshold": 0.5,
        "sampleSize": 2,
        "coolDownPeriod": cool_down,
        "halfOpenStateEnabled": half_open,
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "breaker", "version": "1"},
        "paths": {
            "/items/{id}": {"get": {"operationId": "getItem", "responses": {"200": {"description": "ok"}}}}
        },
        "components": {},
        "x-tyk-api-gateway": {
            "info": {"id": "brk-oas", "name": "breaker", "orgId": "org1", "state": {"active": True}},
            "server": {"listenPath": {"value": "/brk/", "strip": True}, "eventHandlers": handlers},
            "upstream": {"url": upstream},
            "middleware": {"operations": {"getItem": {"circuitBreaker": breaker}}},
        },
    }


APIS = {"classic": classic_api, "oas": oas_api}


def expected(fmt: str, event: str, tripped: bool) -> dict[str, str]:
    """What the default webhook template renders for a breaker event."""
    body = {
        "event": event,
        "message": "Breaker Tripped" if tripped else "Breaker Reset",
        "api_id": f"brk-{fmt}",
        "path": "/items/{id}",  # the configured pattern, not the request path
    }
    return body | {"Status": "0" if tripped else "1"} if event == "BreakerTriggered" else body


def bodies(deliveries: list[Delivery]) -> list[dict[str, str]]:
    """The bodies in event-name order: the bus's workers deliver a pair concurrently."""
    return sorted((d.json() for d in deliveries), key=lambda body: body["event"] != "BreakerTriggered")


async def trip(gw: RunningGateway, statuses: tuple[int, ...]) -> None:
    """Two failing requests trip the breaker (2 samples, 50 %); the next one is refused."""
    codes = [(await gw.client.get(f"/brk/items/{i}")).status_code for i in range(2)]
    assert codes == list(statuses)
    refused = await gw.client.get("/brk/items/9")
    assert (refused.status_code, refused.text) == (503, UNAVAILABLE)
    assert refused.headers["content-type"] == "application/json"


async def until_ok(client: httpx.AsyncClient, timeout: float = 5.0) -> list[int]:
    """Request until the breaker lets a request through and it succeeds; the codes seen on the way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    codes: list[int] = []
    while loop.time() < deadline:
        codes.append((await client.get("/brk/items/1")).status_code)
        if codes[-1] == 200:
            return codes
        await asyncio.sleep(0.05)  # pacing the retries, bounded by the deadline
    raise TimeoutError(f"the breaker never let a request through: {codes}")


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_trip_then_timer_reset_without_traffic(
    tmp_path: Any, fmt: str, store_config: dict[str, Any]
) -> None:
    upstream, recorder = ControlledUpstream(), WebhookRecorder()
    async with await serve(upstream) as up, await serve(recorder) as hook:
        api = APIS[fmt](up.url + "/", hook.url + "/hook", half_open=False, cool_down=1)
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            upstream.fail(500)
            await trip(gw, (500, 500))
            tripped = await recorder.wait_for(2)
            hits = upstream.total
            assert hits == 2
            for _ in range(3):
                assert (await gw.client.get("/brk/items/1")).status_code == 503
            assert upstream.total == hits  # refused requests never reach the upstream
            # Other paths and methods are not guarded by this breaker.
            assert (await gw.client.get("/brk/other")).status_code == 500
            assert (await gw.client.post("/brk/items/1")).status_code == 500
            upstream.recover()
            reset = (await recorder.wait_for(4, timeout=5.0))[2:]  # the timer, with no traffic
            assert (await gw.client.get("/brk/items/1")).status_code == 200
            await gw.idle()
            assert len(recorder.deliveries) == 4
    assert bodies(tripped) == [expected(fmt, "BreakerTriggered", True), expected(fmt, "BreakerTripped", True)]
    assert bodies(reset) == [expected(fmt, "BreakerTriggered", False), expected(fmt, "BreakerReset", False)]
    assert all(d.path == "/hook" and d.headers["user-agent"] == "Tyk-Hookshot" for d in recorder.deliveries)


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_connection_failures_trip_and_a_half_open_probe_resets(
    tmp_path: Any, fmt: str, store_config: dict[str, Any]
) -> None:
    upstream, recorder = ControlledUpstream(), WebhookRecorder()
    async with await serve(recorder) as hook:
        up = await serve(upstream)
        port = up.port
        api = APIS[fmt](up.url + "/", hook.url + "/hook", half_open=True, cool_down=60)
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            await up.close()  # the upstream is gone: connection refused
            await trip(gw, (500, 500))
            tripped = await recorder.wait_for(2)
            async with serve(upstream, port=port):
                codes = await until_ok(gw.client)
                reset = (await recorder.wait_for(4))[2:]
                assert (await gw.client.get("/brk/items/2")).status_code == 200
                await gw.idle()
    assert set(codes[:-1]) <= {503}  # refused until the probe after the 0.5 s back-off
    assert upstream.total == 2  # only the probe and the request after it reached the upstream
    assert len(recorder.deliveries) == 4
    assert bodies(tripped) == [expected(fmt, "BreakerTriggered", True), expected(fmt, "BreakerTripped", True)]
    assert bodies(reset) == [expected(fmt, "BreakerTriggered", False), expected(fmt, "BreakerReset", False)]


async def test_a_reload_starts_breakers_afresh_and_cancels_the_old_timer(tmp_path: Any) -> None:
    upstream, recorder = ControlledUpstream(), WebhookRecorder()
    async with await serve(upstream) as up, await serve(recorder) as hook:
        api = classic_api(up.url + "/", hook.url + "/hook", half_open=False, cool_down=60)
        async with run_gateway(tmp_path, apis=[api]) as gw:
            upstream.fail(500)
            await trip(gw, (500, 500))
            old = gw.gateway._table.match("", "/brk/items/1")
            assert old is not None
            (breaker,) = old.after
            assert isinstance(breaker, CircuitBreaker) and len(breaker._timers) == 1
            assert (await gw.admin("GET", "/tyk/reload")).status_code == 200
            assert breaker._timers == {}
            upstream.recover()
            assert (await gw.client.get("/brk/items/1")).status_code == 200  # a new, closed breaker
            await gw.idle()
    assert [d.json()["event"] for d in recorder.deliveries].count("BreakerReset") == 0
