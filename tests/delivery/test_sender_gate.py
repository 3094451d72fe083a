"""The Sender behind its targets' gate, against real receivers on loopback: a target paused after its
failures in a row, probed and resumed (its delivery not given up, the time paused outside its budget);
a slow target held to its cap while another is served; the rate; a halt ending the waits;
WebhookDeliveryFailed for a delivery given up, never for one that carried it. Real time, short
intervals, bounded waits."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.config.model import EndpointPauseConfig
from gateway.delivery.gate import Gate
from gateway.delivery.model import RetryPolicy
from gateway.delivery.sender import Sender
from gateway.delivery.targets import Notice, target_of
from gateway.testing import WebhookRecorder, serve
from gateway.testing.harness import eventually
from gateway.testing.servers import StallingApp
from tests.delivery.conftest import delivery

QUICK = RetryPolicy(50, 0.3, 0.0, 0.0)  # no backoff, and a budget far shorter than the pause


def sender(http: httpx.AsyncClient, gate: Gate, notices: list[Notice], concurrency: int = 64) -> Sender:
    made = Sender(http, None, concurrency=concurrency, gate=gate, rand=lambda: 0.0)
    made.fire = notices.append
    return made


async def test_paused_after_three_failures_probed_and_resumed_without_losing_the_delivery() -> None:
    recorder = WebhookRecorder(script=[(500, {})] * 5)  # three fail, two probes fail, the third delivers
    gate, notices = Gate(EndpointPauseConfig(3, 60.0, 0.2)), list[Notice]()
    async with serve(recorder) as served, httpx.AsyncClient() as http:
        url = served.url + "/hook"
        send = asyncio.create_task(sender(http, gate, notices)(delivery(url=url, retry=QUICK, accepted=0)))
        await eventually(lambda: bool(notices), "the pause")
        (paused,) = gate.view()
        assert paused["state"] == "paused" and paused["consecutive_failures"] == 3
        assert paused["reason"] == "3 failed attempts in a row: answered 500"
        assert await asyncio.wait_for(send, 10)  # delivered: 0.6 s paused, outside its 0.3 s budget
    assert len(recorder.deliveries) == 6
    name = target_of(url)
    assert notices == [
        Notice(
            "WebhookEndpointPaused",
            {"message": "Webhook endpoint paused", "target": name, "reason": paused["reason"]},
        ),
        Notice(
            "WebhookEndpointResumed",
            {"message": "Webhook endpoint resumed", "target": name, "reason": "probe delivered"},
        ),
    ]
    assert gate.view()[0]["state"] == "active"


async def test_deliveries_wait_while_paused_and_one_probe_goes_at_a_time() -> None:
    recorder = WebhookRecorder(script=[(503, {})] * 4)
    gate, notices = Gate(EndpointPauseConfig(2, 60.0, 0.2)), list[Notice]()
    async with serve(recorder) as served, httpx.AsyncClient() as http:
        send = sender(http, gate, notices)
        url = served.url + "/hook"
        first = asyncio.create_task(send(delivery(1, url=url, retry=QUICK, accepted=0)))
        await eventually(lambda: bool(notices), "the pause")
        others = [asyncio.create_task(send(delivery(n, url=url, retry=QUICK, accepted=0))) for n in (2, 3)]
        await eventually(lambda: gate.view()[0]["waiting"] >= 2, "deliveries waiting on the pause")
        assert all(await asyncio.wait_for(asyncio.gather(first, *others), 10))
    assert len(recorder.deliveries) == 4 + 3  # two before the pause, two failed probes, then three
    assert [n.event for n in notices] == ["WebhookEndpointPaused", "WebhookEndpointResumed"]


async def test_a_slow_target_holds_no_more_than_its_cap_and_another_target_is_served() -> None:
    slow, fast = StallingApp(), WebhookRecorder()
    gate = Gate(cap=2)
    async with serve(slow) as slow_served, serve(fast) as fast_served, httpx.AsyncClient() as http:
        send = sender(http, gate, [], concurrency=3)  # the slow target alone would take all three
        stalled = [asyncio.create_task(send(delivery(n, url=slow_served.url + "/s"))) for n in range(4)]
        try:
            await eventually(lambda: slow.arrived == 2, "two attempts on the slow target")
            assert await asyncio.wait_for(send(delivery(9, url=fast_served.url + "/f")), 5)
            view = {v["target"]: v for v in gate.view()}[target_of(slow_served.url)]
            assert (view["in_flight"], view["waiting"], slow.arrived) == (2, 2, 2)
        finally:
            slow.release()
        assert all(await asyncio.wait_for(asyncio.gather(*stalled), 10))
    assert len(fast.deliveries) == 1 and slow.arrived == 4


async def test_halt_ends_the_waits_of_a_paused_target() -> None:
    gate, notices = Gate(EndpointPauseConfig(1, 60.0, 600.0)), list[Notice]()
    async with serve(WebhookRecorder(status=500)) as served, httpx.AsyncClient() as http:
        send = sender(http, gate, notices)
        waiting = asyncio.create_task(send(delivery(url=served.url + "/h", retry=QUICK, accepted=0)))
        await eventually(lambda: bool(gate.view()) and gate.view()[0]["waiting"] == 1, "the wait")
        send.halt()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(waiting, 5)


@pytest.mark.parametrize(("status", "attempts"), [(410, 1), (500, 3), (404, 1)])
async def test_a_delivery_given_up_fires_webhook_delivery_failed(status: int, attempts: int) -> None:
    notices: list[Notice] = []
    async with serve(WebhookRecorder(status=status)) as served, httpx.AsyncClient() as http:
        send = sender(http, Gate(), notices)
        url = served.url + "/hook?key=secret"
        assert not await send(delivery(url=url, retry=RetryPolicy(3, 60, 0.0, 0.0), accepted=0))
        assert not await send(delivery(url=url, event="WebhookDeliveryFailed"))  # no loop
    (failed,) = notices
    assert failed == Notice(
        "WebhookDeliveryFailed",
        {
            "message": "Webhook delivery failed",
            "webhook_id": failed.fields["webhook_id"],
            "target": f"POST {served.url}/hook",  # no query: a key could ride in it
            "attempts": attempts,
            "last_error": f"answered {status}",
            "event": "QuotaExceeded",
            "api_id": "api1",
        },
        "api1",
    )


async def test_the_rate_spaces_attempts_beyond_a_seconds_burst() -> None:
    recorder, gate = WebhookRecorder(), Gate(rate=20.0)
    async with serve(recorder) as served, httpx.AsyncClient() as http:
        send = sender(http, gate, [])
        loop = asyncio.get_running_loop()
        began = loop.time()
        sends = [send(delivery(n, url=served.url + "/r")) for n in range(30)]
        assert all(await asyncio.wait_for(asyncio.gather(*sends), 10))
        took = loop.time() - began
    assert len(recorder.deliveries) == 30
    assert took >= 0.45  # a burst of 20, then ten more at 20 a second: half a second at least


async def test_failed_probes_do_not_count_against_the_attempts() -> None:
    recorder = WebhookRecorder(script=[(500, {})] * 5)  # two fail and pause, three probes fail
    gate, notices = Gate(EndpointPauseConfig(2, 60.0, 0.05)), list[Notice]()
    async with serve(recorder) as served, httpx.AsyncClient() as http:
        policy = RetryPolicy(3, 60.0, 0.0, 0.0)  # three attempts: without the pause, given up at the third
        assert await sender(http, gate, notices)(delivery(url=served.url + "/p", retry=policy, accepted=0))
    assert len(recorder.deliveries) == 6
    assert [n.event for n in notices] == ["WebhookEndpointPaused", "WebhookEndpointResumed"]
