"""A webhook receiver that refuses everything (503) for 5 s, behind a gateway on Redis with the default
retry policy but for a tenth of its first backoff: every event arrives, each exactly once, once the
receiver is back (within about twice the outage: full jitter's ceiling doubles with each attempt). Under
the former defaults (5 attempts, so 1.5 s at most with this backoff) every event was lost."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from gateway.testing import WebhookRecorder, echo_app, eventually, run_gateway, serve
from gateway.testing.recorder import Delivery
from tests.conftest import RedisServer
from tests.e2e.test_keys import keyed_api

pytestmark = pytest.mark.redis

OUTAGE = 5.0
EVENTS = 20


async def test_a_receiver_down_for_seconds_gets_every_event_once(
    tmp_path: Path, redis_flush: RedisServer
) -> None:
    accepted: Counter[str] = Counter()  # webhook-id -> 2xx answers given

    def answered(request: Delivery) -> None:
        if recorder.status == 200:  # read right after this call, for this request
            accepted[request.headers["webhook-id"]] += 1

    recorder = WebhookRecorder(status=503, on_delivery=answered)
    storage = {"type": "redis", "host": redis_flush.host, "port": redis_flush.port}
    config = {"storage": storage, "events": {"retry_base_delay": 0.1}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = keyed_api(upstream.url, hook.url)  # AuthFailure webhooks, no cooldown
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            down = time.monotonic()
            for n in range(EVENTS):
                resp = await gw.client.get("/keyed/x", headers={"Authorization": f"unknown-{n}"})
                assert resp.status_code == 403
            await eventually(lambda: len(recorder.deliveries) >= EVENTS, "the first attempts")
            await eventually(lambda: time.monotonic() - down >= OUTAGE, "the outage", timeout=OUTAGE + 1)
            recorder.status = 200
            back = time.monotonic()
            await eventually(lambda: len(accepted) == EVENTS, "every event, after the outage", timeout=90)
            took = time.monotonic() - back
            await gw.idle()
    refused = len(recorder.deliveries) - sum(accepted.values())
    print(f"\n{EVENTS} events, {refused} attempts refused, all delivered {took:.1f} s after the outage")
    assert set(accepted.values()) == {1}  # each exactly once
