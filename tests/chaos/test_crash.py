"""Gateways stopped or reloaded in the middle of a flood lose no accepted event, on both stores.

A flood of requests that each fire a webhook event (RatelimitExceeded, no cooldown) meets a receiver
that answers nothing, so every delivery waits in the outbox. SIGKILL mid-flood: every delivery the
outbox holds (read from outside) arrives once after a restart. SIGTERM mid-flood: every request that
was answered 429 arrives once, since a graceful stop writes what the bus still held. Reloads mid-flood:
every request is answered and every 429's event arrives once.
"""

from __future__ import annotations

import asyncio
import collections
import json
import signal
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import WebhookRecorder, echo_app, eventually, serve, unused_port
from tests.e2e.test_outbox import Receiver, api, backlog, start
from tests.e2e.test_two_gateways import wait_ready

FLOOD = 400  # requests, the first answered 200 and every other 429 (one event each)
CONCURRENCY = 32


async def flood(client: httpx.AsyncClient, url: str) -> collections.Counter[Any]:
    """FLOOD requests from CONCURRENCY clients; a refused connection counts as "gone" (stopped)."""
    todo = iter(range(FLOOD))
    seen: collections.Counter[Any] = collections.Counter()

    async def one_client() -> None:
        for _ in todo:
            try:
                seen[(await client.get(url + "/example-local-webhook/get")).status_code] += 1
            except httpx.TransportError:
                seen["gone"] += 1

    await asyncio.gather(*(one_client() for _ in range(CONCURRENCY)))
    return seen


def delivered_once(receiver: Receiver) -> set[str]:
    ids = [d.headers["webhook-id"] for d in receiver.healthy.deliveries]
    assert len(ids) == len(set(ids)), "a delivery arrived twice"
    return set(ids)


async def stop_mid_flood(tmp_path: Path, store: dict[str, Any], how: signal.Signals) -> tuple[int, int]:
    """Flood one gateway, send `how` once half the flood is in the outbox, restart, and wait for the
    outbox to empty. Returns (requests answered 429, distinct deliveries received)."""
    receiver = Receiver()
    extra = {**store, "events": {"delivery_concurrency": 4, "shutdown_deadline": 0.2}}
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "api.json").write_text(json.dumps(api(upstream.url, hook.url)))
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        procs = [start(tmp_path, "gw", port, extra)]
        try:
            limits = httpx.Limits(max_connections=CONCURRENCY)
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                await wait_ready(client, url + "/hello", procs[0])
                flooding = asyncio.create_task(flood(client, url))
                await eventually(lambda: backlog(tmp_path, store["storage"]) >= FLOOD // 2, "half", 60)
                procs[0].send_signal(how)
                assert await asyncio.to_thread(procs[0].wait, 30) in (0, -signal.SIGKILL)
                seen = await flooding
                accepted = backlog(tmp_path, store["storage"])  # what the stopped gateway left
                assert seen["gone"] > 0 and accepted >= FLOOD // 2
                receiver.recover()
                procs.append(start(tmp_path, "gw", port, extra))
                await wait_ready(client, url + "/hello", procs[1])
                await eventually(lambda: len(delivered_once(receiver)) >= accepted, "every delivery", 60)
                await eventually(lambda: backlog(tmp_path, store["storage"]) == 0, "the outbox to empty")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(proc.wait, 30)
    received = delivered_once(receiver)
    print(  # the figures docs/reliability.md quotes: pytest -s shows them
        f"\n{how.name} mid-flood on {store['storage']['type']}: {dict(seen)} answered, "
        f"{accepted} in the outbox at the stop, {len(received)} delivered after the restart"
    )
    assert set(receiver.stalled) <= received  # in flight at the stop: resent under the same id
    assert len(received) == accepted, f"{accepted} accepted, {len(received)} delivered"
    return seen[429], len(received)


async def test_sigkill_mid_flood_delivers_every_accepted_event_once(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    answered, received = await stop_mid_flood(tmp_path, store_config, signal.SIGKILL)
    # A SIGKILL can only lose the events still in the bus queue, never one the outbox took.
    assert received <= answered + CONCURRENCY


async def test_sigterm_mid_flood_delivers_the_event_of_every_answered_request(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    answered, received = await stop_mid_flood(tmp_path, store_config, signal.SIGTERM)
    assert received == answered  # a graceful stop writes what the bus still held


async def test_reloads_mid_flood_answer_every_request_and_deliver_every_event_once(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "api.json").write_text(json.dumps(api(upstream.url, hook.url)))
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(tmp_path, "gw", port, store_config)
        try:
            limits = httpx.Limits(max_connections=CONCURRENCY + 1)
            async with httpx.AsyncClient(timeout=30, limits=limits) as client:
                await wait_ready(client, url + "/hello", proc)
                flooding = asyncio.create_task(flood(client, url))
                reloads = 0
                while not flooding.done() and reloads < 20:
                    admin = {"x-tyk-authorization": "outbox-e2e"}
                    assert (await client.get(url + "/tyk/reload", headers=admin)).status_code == 200
                    reloads += 1
                seen = await flooding
                await recorder.wait_for(seen[429], timeout=60)
                storage = store_config["storage"]
                await eventually(lambda: backlog(tmp_path, storage) == 0, "the outbox to empty")
        finally:
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(proc.wait, 30) == 0
    ids = [d.headers["webhook-id"] for d in recorder.deliveries]
    print(f"\n{reloads} reloads mid-flood: {dict(seen)} answered, {len(set(ids))} delivered")
    assert reloads >= 2 and seen == {200: 1, 429: FLOOD - 1}
    assert len(ids) == len(set(ids)) == FLOOD - 1
