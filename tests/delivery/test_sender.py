"""The Sender against real receivers on loopback: retries with one webhook-id, 410 remembered, no
redirects, Retry-After, the retry budget, a target the outbound policy refuses, Standard Webhooks
signatures verified by the reference library, and the delivery log. Backoff waits are recorded by an
injected sleep, never slept."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from gateway.delivery import signing
from gateway.delivery.history import DeliveryLog
from gateway.delivery.model import RetryPolicy
from gateway.delivery.sender import Sender
from gateway.outbound import Outbound
from gateway.testing import WebhookRecorder, serve
from tests.delivery.conftest import delivery


class Clock:
    """Wall time that moves only when the sender sleeps (starting now: receivers check timestamps)."""

    def __init__(self) -> None:
        self.now = time.time()
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def send(
    recorder: WebhookRecorder, clock: Clock, log: DeliveryLog | None = None, **changes: Any
) -> bool:
    async with serve(recorder) as served, httpx.AsyncClient(follow_redirects=False, timeout=5) as http:
        sender = Sender(http, log, clock, sleep=clock.sleep, rand=lambda: 1.0)
        changes.setdefault("url", served.url + "/hook")
        changes.setdefault("accepted", clock.now)
        return await sender(delivery(**changes))


async def test_fails_twice_then_succeeds_in_three_attempts_with_one_webhook_id() -> None:
    recorder = WebhookRecorder(script=[(500, {}), (502, {})])
    clock = Clock()
    assert await send(recorder, clock, retry=RetryPolicy(5, 300, 1.0, 60))
    assert len(recorder.deliveries) == 3
    assert len({d.headers["webhook-id"] for d in recorder.deliveries}) == 1
    assert clock.waits == [1.0, 2.0]  # full jitter's ceiling (rand = 1.0): base * 2**n


async def test_gives_up_after_max_attempts() -> None:
    recorder = WebhookRecorder(status=500)
    assert not await send(recorder, Clock(), retry=RetryPolicy(3, 300, 1.0, 60))
    assert len(recorder.deliveries) == 3


async def test_max_elapsed_stops_retries() -> None:
    recorder = WebhookRecorder(status=503)
    clock = Clock()
    # Waits of 1, 2, 4 s fit in 5 s only up to the second: three attempts, not ten.
    assert not await send(recorder, clock, retry=RetryPolicy(10, 5.0, 1.0, 60))
    assert len(recorder.deliveries) == 3


async def test_gone_stops_this_and_later_deliveries_to_the_target() -> None:
    recorder = WebhookRecorder(status=410)
    clock = Clock()
    async with serve(recorder) as served, httpx.AsyncClient(follow_redirects=False) as http:
        sender = Sender(http, None, clock, sleep=clock.sleep)
        url = served.url + "/hook"
        assert not await sender(delivery(1, url=url, accepted=clock.now))
        assert not await sender(delivery(2, url=url, accepted=clock.now))
    assert len(recorder.deliveries) == 1


@pytest.mark.parametrize("status", [301, 307, 400, 404])
async def test_redirects_and_final_client_errors_are_not_retried(status: int) -> None:
    recorder = WebhookRecorder(status=status, script=[(status, {"Location": "http://127.0.0.1:9/x"})])
    assert not await send(recorder, Clock())
    assert len(recorder.deliveries) == 1


async def test_retry_after_is_honoured() -> None:
    recorder = WebhookRecorder(script=[(429, {"Retry-After": "7"})])
    clock = Clock()
    assert await send(recorder, clock, retry=RetryPolicy(5, 300, 1.0, 2.0))
    assert clock.waits == [7.0]
    assert len(recorder.deliveries) == 2


async def test_retry_after_beyond_the_budget_gives_up() -> None:
    recorder = WebhookRecorder(script=[(503, {"Retry-After": "600"})])
    assert not await send(recorder, Clock(), retry=RetryPolicy(5, 300, 1.0, 60))
    assert len(recorder.deliveries) == 1


async def test_connection_refused_is_retried() -> None:
    clock = Clock()
    async with httpx.AsyncClient() as http:
        sender = Sender(http, None, clock, sleep=clock.sleep, rand=lambda: 0.5)
        closed = "http://127.0.0.1:9/hook"  # the discard port: nothing listens on loopback
        assert not await sender(delivery(url=closed, accepted=clock.now, retry=RetryPolicy(3, 300, 2, 60)))
    assert clock.waits == [1.0, 2.0]


async def test_a_target_the_outbound_policy_refuses_is_given_up_at_once() -> None:
    """A name that resolves to the metadata address (the resolver seam stands in for a DNS answer): one
    attempt, no connection, no wait, the reason in the delivery log."""

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    recorder, clock, log = WebhookRecorder(), Clock(), DeliveryLog(10)
    async with serve(recorder) as served, Outbound(resolver=metadata).client() as http:
        sender = Sender(http, log, clock, sleep=clock.sleep)
        url = served.url.replace("127.0.0.1", "hooks.example") + "/hook"
        assert not await sender(delivery(url=url, accepted=clock.now, retry=RetryPolicy(5, 300, 1, 60)))
    (only,) = log.entries()
    assert only["attempt"] == 1 and only["outcome"] == "given up" and clock.waits == []
    assert only["error"].startswith("OutboundRefused: refused by the outbound policy: 169.254.169.254")
    assert recorder.deliveries == []


async def test_signatures_verify_with_the_reference_library_during_rotation() -> None:
    old, new = signing.generate(), signing.generate()
    recorder = WebhookRecorder(script=[(500, {})])
    assert await send(recorder, Clock(), secrets=(new, old))
    for received in recorder.deliveries:
        assert len(received.headers["webhook-signature"].split(" ")) == 2
        for secret in (old, new):  # a receiver holding either secret accepts every attempt
            payload = Webhook(secret).verify(received.body, received.headers)
            assert payload == json.loads(received.body)
    stranger = Webhook(signing.generate())
    with pytest.raises(Exception, match="No matching signature"):
        stranger.verify(recorder.deliveries[0].body, recorder.deliveries[0].headers)


async def test_unsigned_delivery_carries_the_id_and_timestamp_only() -> None:
    recorder = WebhookRecorder()
    assert await send(recorder, Clock())
    headers = recorder.deliveries[0].headers
    assert headers["webhook-id"].startswith("msg_")
    assert "webhook-signature" not in headers and headers["webhook-timestamp"].isdigit()


async def test_delivery_log_records_each_attempt_without_the_query() -> None:
    log = DeliveryLog(10)
    recorder = WebhookRecorder(script=[(500, {})])
    async with serve(recorder) as served:
        ok = await send(recorder, Clock(), log, url=served.url + "/hook?key=secret-key-1234")
    assert ok
    attempts = log.entries("api1", "hook")
    assert [a["attempt"] for a in attempts] == [2, 1]
    assert [a["status"] for a in attempts] == [200, 500]
    assert attempts[0]["outcome"] == "delivered" and attempts[1]["outcome"] == "retrying"
    assert "secret-key-1234" not in json.dumps(attempts)
    assert attempts[0]["target"].endswith("/hook")


async def test_delivery_log_marks_a_given_up_delivery(caplog: pytest.LogCaptureFixture) -> None:
    log = DeliveryLog(10)
    with caplog.at_level(logging.WARNING, logger="gateway.delivery"):
        assert not await send(WebhookRecorder(status=404), Clock(), log)
    (only,) = log.entries()
    assert only["outcome"] == "given up" and only["error"] == "answered 404"
    # The warning carries the fields a JSON log line shows (log_format "json").
    (line,) = [r for r in caplog.records if "given up" in r.getMessage()]
    assert (line.api_id, line.event, line.handler, line.target_host) == (  # type: ignore[attr-defined]
        only["api_id"],
        only["event"],
        only["handler"],
        "127.0.0.1",
    )


def test_delivery_log_keeps_the_last_n_per_handler() -> None:
    from gateway.delivery.history import Attempt

    log = DeliveryLog(2)
    for n in range(5):
        log.record(Attempt(float(n), "a", "h", "E", "POST http://x/", f"msg_{n}", 1, 200, 1.0))
    log.record(Attempt(9.0, "b", "h", "E", "POST http://x/", "msg_b", 1, 200, 1.0))
    assert [a["webhook_id"] for a in log.entries("a")] == ["msg_4", "msg_3"]
    assert len(log.entries()) == 3 and len(log.entries(handler="h")) == 3


async def test_halt_ends_a_backoff_wait_unfinished() -> None:
    import asyncio

    recorder = WebhookRecorder(status=500)
    async with serve(recorder) as served, httpx.AsyncClient() as http:
        sender = Sender(http)  # the real backoff wait: up to 60 s
        retry = RetryPolicy(5, 300, 60.0, 60.0)
        task = asyncio.create_task(
            sender(delivery(url=served.url + "/hook", retry=retry, accepted=time.time()))
        )
        await recorder.wait_for(1)
        sender.halt()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
    assert len(recorder.deliveries) == 1
