"""The webhook handler with a Deliverer (deps.deliveries), on each store: it renders, reserves the
cooldown under the delivery's id and submits one Delivery carrying everything a retry will resend;
with the outbox unavailable it sends nothing itself: the Deliverer holds the delivery until it is durable."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.delivery.deliverer import Deliverer
from gateway.delivery.model import RetryPolicy
from gateway.delivery.outbox_memory import MemoryOutbox
from gateway.handlers.webhook import WebhookHandler
from gateway.store.base import Store
from gateway.testing import WebhookRecorder, serve
from tests.handlers.test_webhook import SCOPE, auth_failure, deps


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False, timeout=5) as client:
        yield client


async def test_submits_a_delivery_and_reserves_the_cooldown_under_its_id(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    outbox = MemoryOutbox()
    retry = RetryPolicy(max_attempts=7)
    handler_deps = dataclasses.replace(
        deps(store, http, tmp_path), deliveries=Deliverer(outbox, _never, store, 1), retry=retry
    )
    meta = {"method": "POST", "target_path": "http://127.0.0.1:9/in", "event_timeout": 60, "name": "h"}
    handler = WebhookHandler.from_meta(meta, SCOPE, handler_deps)
    await handler.handle(auth_failure())
    await handler.handle(auth_failure())  # identical: suppressed by the cooldown, never submitted
    (delivery,) = await outbox.take(10, 0)
    assert (delivery.api_id, delivery.handler, delivery.event) == ("api1", "h", "AuthFailure")
    assert (delivery.method, delivery.url, delivery.retry, delivery.secrets) == (
        "POST",
        meta["target_path"],
        retry,
        (),
    )
    assert (
        dict(delivery.headers)["User-Agent"] == "Tyk-Hookshot" and b'"event": "AuthFailure"' in delivery.body
    )
    assert delivery.reservation == "webhook.cache." + handler.checksum(delivery.body)
    assert await store.get(delivery.reservation) == delivery.id and delivery.accepted > 0
    assert await outbox.take(10, 0) == []


async def test_never_sends_itself_when_the_outbox_is_unavailable(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    outbox = MemoryOutbox()
    await outbox.close()  # every add now raises StoreError
    recorder = WebhookRecorder()
    deliverer = Deliverer(outbox, _never, store, 1)
    async with await serve(recorder) as hook:
        handler_deps = dataclasses.replace(deps(store, http, tmp_path), deliveries=deliverer)
        handler = WebhookHandler.from_meta(
            {"method": "POST", "target_path": hook.url + "/in"}, SCOPE, handler_deps
        )
        await handler.handle(auth_failure())
    assert recorder.deliveries == [] and deliverer.unwritten.held == 1  # held, to be written later


async def _never(delivery: object) -> bool:
    raise AssertionError("the deliverer is not started in these tests")
