"""Live events over SSE and the delivery log: an event a request fires reaches an open stream (filtered,
key redacted), a new stream starts with the recent ones; the deliveries page lists the webhook and
resend sends it again under the same webhook-id."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from gateway.events.catalog import BreakerMeta, Event, HostStatusMeta
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.dashboard.conftest import ON, csrf_of, sign_in
from tests.e2e.conftest import seed_classic


async def events_from(gw: RunningGateway, query: str, count: int, fire: Any = None) -> list[dict[str, Any]]:
    """The first `count` events the stream sends (after `fire()`, once the stream answers), within 10 s."""
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(10), gw.client.stream("GET", f"/dashboard/events/stream{query}") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        if fire is not None:
            await fire()
        async for line in stream.aiter_lines():
            if line.startswith("data: "):
                found.append(json.loads(line[6:]))
                if len(found) == count:
                    return found
    raise AssertionError(f"the stream ended after {found}")


async def test_events_stream_live_then_deliveries_and_resend(tmp_path: Path) -> None:
    receiver = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config=ON) as gw:
            await sign_in(gw)
            page = await gw.client.get("/dashboard/events")
            assert 'id="events"' in page.text and 'id="health"' in page.text
            assert 'name="api_id"' in page.text and 'name="event"' in page.text

            async def fire() -> None:
                for _ in range(3):
                    await gw.client.get("/example-local-webhook/get", headers={"Authorization": "k-12345678"})

            query = "?api_id=seed-classic&event=RatelimitExceeded"
            (live,) = await events_from(gw, query, 1, fire)
            assert live["event"] == "RatelimitExceeded" and live["api_id"] == "seed-classic"
            assert live["listed"] is True and live["message"]
            (recent,) = await events_from(gw, query, 1)  # a new page gets the buffered one first
            assert recent["seq"] == live["seq"]
            assert (await events_from(gw, "?api_id=seed-classic&event=RatelimitExceeded", 1))[0] == recent

            (first,) = await receiver.wait_for(1)
            await gw.idle()
            deliveries = await gw.client.get("/dashboard/deliveries")
            ids = re.findall(
                r'<tr class="delivery" data-delivery-id="([^"]+)" data-status="([^"]+)"', deliveries.text
            )
            assert ids == [(first.headers["webhook-id"], "delivered")]
            resent = await gw.client.post(
                f"/dashboard/deliveries/{ids[0][0]}/resend", data={"csrf_token": csrf_of(deliveries.text)}
            )
            assert resent.status_code == 303 and resent.headers["location"] == "/dashboard/deliveries"
            again = await receiver.wait_for(2)
            assert again[1].headers["webhook-id"] == first.headers["webhook-id"]
            assert again[1].body == first.body
            shown = await gw.client.get("/dashboard/deliveries")
            assert 'id="flash"' in shown.text
            unknown = await gw.client.post(
                "/dashboard/deliveries/nope/resend", data={"csrf_token": csrf_of(shown.text)}
            )
            assert unknown.status_code == 303
            assert "no longer kept" in (await gw.client.get("/dashboard/deliveries")).text
            forged = await gw.client.post(
                f"/dashboard/deliveries/{ids[0][0]}/resend", data={"csrf_token": "x"}
            )
            assert forged.status_code == 403
            await gw.idle()
    assert len(receiver.deliveries) == 2


async def test_the_stream_skips_what_a_reconnect_already_has(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream, await serve(WebhookRecorder()) as hook:
        api = seed_classic(upstream.url, hook.url, cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config=ON) as gw:
            await sign_in(gw)
            for _ in range(4):
                await gw.client.get("/example-local-webhook/get")
            await gw.idle()
            first, second = await events_from(gw, "?event=RatelimitExceeded", 2)
            headers = {"Last-Event-ID": str(first["seq"])}
            async with (
                asyncio.timeout(10),
                gw.client.stream(
                    "GET", "/dashboard/events/stream?event=RatelimitExceeded", headers=headers
                ) as stream,
            ):
                async for line in stream.aiter_lines():
                    if line.startswith("data: "):
                        assert json.loads(line[6:])["seq"] == second["seq"]
                        break


async def test_breaker_and_host_events_reach_the_health_panel_whatever_the_filter(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON) as gw:
        await sign_in(gw)
        info = {"CheckURL": "http://10.0.0.9/h", "MetaData": {"host_name": "10.0.0.9:80", "api_id": "a"}}

        async def fire() -> None:
            gw.gateway.fire_system(Event.HostDown, HostStatusMeta("host down", host_info=info))
            gw.gateway.fire_system(Event.BreakerTripped, BreakerMeta("tripped", path="/p", api_id="a"))

        down, tripped = await events_from(gw, "?event=RatelimitExceeded", 2, fire)
    assert (down["event"], down["host"], down["listed"]) == ("HostDown", "10.0.0.9:80", False)
    assert (tripped["event"], tripped["path"], tripped["listed"]) == ("BreakerTripped", "/p", False)
    assert "OriginatingRequest" not in json.dumps([down, tripped])
