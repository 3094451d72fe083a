"""Accepted webhooks survive the gateway: a gateway stopped past its shutdown deadline, or killed, with
deliveries in flight and waiting, delivers every one after a restart on the same store, each once and
under its original webhook-id; and two gateways on one Redis send N events' webhooks exactly N times."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import WebhookRecorder, echo_app, eventually, run_gateway, serve, unused_port
from tests.conftest import redis_command
from tests.e2e.conftest import seed_classic
from tests.e2e.test_two_gateways import ROOT, wait_ready

EVENTS = 5


class Receiver:
    """A webhook target that first stalls every request (recording its webhook-id), then, once healthy,
    records and answers 200 like a WebhookRecorder."""

    def __init__(self, *, answer_stalled: bool = False) -> None:
        self.answer_stalled = answer_stalled  # once recovered, answer the stalled requests too (200)
        self.stalled: list[str] = []
        self.healthy = WebhookRecorder()
        self._recovered = asyncio.Event()

    def recover(self) -> None:
        self._recovered.set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not self._recovered.is_set():
            self.stalled.append(dict(scope["headers"]).get(b"webhook-id", b"").decode())
            await self._recovered.wait()  # the gateway gives up on this request long before
            if self.answer_stalled:
                await self.healthy(scope, receive, send)
                return
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.healthy(scope, receive, send)


def api(upstream: str, hook: str) -> dict[str, Any]:
    """One request per minute: each further request is a RatelimitExceeded webhook (no cooldown)."""
    spec = seed_classic(upstream, hook + "/hook", cooldown=0)
    spec["global_rate_limit"] = {"rate": 1, "per": 60}
    return spec


def backlog(tmp_path: Path, storage: dict[str, Any]) -> int:
    """Deliveries in the outbox, read from outside the gateway (the file, or XLEN on Redis)."""
    if storage["type"] == "redis":
        server = type("S", (), {"host": storage["host"], "port": storage["port"]})
        return int(redis_command(server, b"XLEN tyk-gateway-outbox")[1:])  # type: ignore[arg-type]
    file = tmp_path / "data" / "outbox.aof"
    pending: set[str] = set()
    for line in file.read_text().splitlines() if file.exists() else ():
        _number, op, value = json.loads(line)
        pending.add(value["id"]) if op == "add" else pending.discard(value)
    return len(pending)


async def fire(client: httpx.AsyncClient, url: str, rejected: int) -> None:
    codes = [(await client.get(url + "/example-local-webhook/get")).status_code for _ in range(rejected + 1)]
    assert codes == [200] + [429] * rejected


def assert_each_delivered_once(receiver: Receiver) -> None:
    ids = [d.headers["webhook-id"] for d in receiver.healthy.deliveries]
    assert len(ids) == EVENTS and len(set(ids)) == EVENTS  # every event, none twice
    assert set(receiver.stalled) <= set(ids)  # in flight at the stop: resent under the same id
    assert all(d.json()["event"] == "RatelimitExceeded" for d in receiver.healthy.deliveries)


async def test_a_stop_past_the_deadline_leaves_deliveries_for_the_next_start(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    receiver = Receiver()
    config = {**store_config, "events": {"shutdown_deadline": 0.05, "delivery_concurrency": 2}}
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        spec = api(upstream.url, hook.url)
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            await fire(gw.client, gw.url, EVENTS)
            await gw.gateway.parts.bus.idle()  # every event is in the outbox
            await eventually(lambda: len(receiver.stalled) == 2, "two deliveries in flight")
        assert backlog(tmp_path, store_config["storage"]) == EVENTS  # nothing was finished
        receiver.recover()
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            await receiver.healthy.wait_for(EVENTS, timeout=10)
            await gw.idle()
    assert_each_delivered_once(receiver)
    assert backlog(tmp_path, store_config["storage"]) == 0


async def test_a_reload_keeps_every_accepted_delivery(tmp_path: Path, store_config: dict[str, Any]) -> None:
    receiver = Receiver(answer_stalled=True)
    config = {**store_config, "events": {"delivery_concurrency": 1}}
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url)], config=config) as gw:
            await fire(gw.client, gw.url, 3)
            await gw.gateway.parts.bus.idle()
            await eventually(lambda: len(receiver.stalled) == 1, "one delivery in flight, two waiting")
            for file in (tmp_path / "apps").iterdir():
                file.unlink()  # the API, and with it the handler, is gone after the reload
            assert (await gw.admin("GET", "/tyk/reload")).status_code == 200
            assert (await gw.client.get("/example-local-webhook/get")).status_code == 404
            receiver.recover()
            await receiver.healthy.wait_for(3)
            await gw.idle()
    ids = [d.headers["webhook-id"] for d in receiver.healthy.deliveries]
    assert len(set(ids)) == 3 and receiver.stalled[0] in ids


def start(tmp_path: Path, name: str, port: int, extra: dict[str, Any]) -> subprocess.Popen[bytes]:
    conf = tmp_path / f"{name}.conf"
    raw = {
        "listen_address": "127.0.0.1",
        "listen_port": port,
        "secret": "outbox-e2e",
        "app_path": "apps",
        **extra,
    }
    conf.write_text(json.dumps(raw))
    command = [sys.executable, "-m", "gateway", "--conf", str(conf)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def test_a_killed_gateway_delivers_everything_after_a_restart(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    receiver = Receiver()
    extra = {**store_config, "events": {"delivery_concurrency": 2}}
    storage = store_config["storage"]
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "api.json").write_text(json.dumps(api(upstream.url, hook.url)))
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        procs = [start(tmp_path, "gw", port, extra)]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                await wait_ready(client, url + "/hello", procs[0])
                await fire(client, url, EVENTS)
                await eventually(lambda: backlog(tmp_path, storage) == EVENTS, "every event in the outbox")
                await eventually(lambda: len(receiver.stalled) == 2, "two deliveries in flight")
                procs[0].kill()  # no shutdown at all: the outbox is all that is left
                await asyncio.to_thread(procs[0].wait, 30)
                receiver.recover()
                # The same port: on Redis the default consumer name (host:port) finds its own entries.
                procs.append(start(tmp_path, "gw", port, extra))
                await wait_ready(client, url + "/hello", procs[1])
                await receiver.healthy.wait_for(EVENTS, timeout=20)
                await eventually(lambda: backlog(tmp_path, storage) == 0, "the outbox to empty")
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(proc.wait, 30)
    assert_each_delivered_once(receiver)


async def test_two_gateways_on_one_redis_send_each_webhook_once(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    recorder = WebhookRecorder()
    storage = {"type": "redis", "host": redis_server.host, "port": redis_server.port}
    count = 12
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "api.json").write_text(json.dumps(api(upstream.url, hook.url)))
        ports = [unused_port(), unused_port()]
        procs = [start(tmp_path, f"gw{n}", port, {"storage": storage}) for n, port in enumerate(ports)]
        try:
            async with httpx.AsyncClient(timeout=30) as client:
                for port, proc in zip(ports, procs, strict=True):
                    await wait_ready(client, f"http://127.0.0.1:{port}/hello", proc)
                codes = [
                    (
                        await client.get(f"http://127.0.0.1:{ports[i % 2]}/example-local-webhook/get")
                    ).status_code
                    for i in range(count + 1)
                ]
                await recorder.wait_for(count, timeout=20)
                await eventually(lambda: backlog(tmp_path, storage) == 0, "the outbox to empty")
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            exits = [await asyncio.to_thread(proc.wait, 30) for proc in procs]
    assert sorted(codes) == [200] + [429] * count and exits == [0, 0]
    ids = [d.headers["webhook-id"] for d in recorder.deliveries]
    assert len(ids) == count and len(set(ids)) == count


async def test_without_the_outbox_webhooks_go_through_memory(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    config = {**store_config, "events": {"outbox": False}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url)], config=config) as gw:
            await fire(gw.client, gw.url, 2)
            await recorder.wait_for(2)
            await gw.idle()
            assert type(gw.gateway.parts.handlers.outbox).__name__ == "MemoryOutbox"
    assert len({d.headers["webhook-id"] for d in recorder.deliveries}) == 2
    assert not (tmp_path / "data" / "outbox.aof").exists()
    if store_config["storage"]["type"] == "redis":
        assert backlog(tmp_path, store_config["storage"]) == 0
