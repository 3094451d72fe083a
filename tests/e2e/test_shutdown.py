"""SIGTERM is graceful: a request in flight finishes, an event being delivered is delivered, exit 0."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from gateway.testing import StallingApp, eventually, serve, unused_port
from tests.dashboard.conftest import login_page
from tests.e2e.conftest import seed_classic
from tests.e2e.test_two_gateways import ROOT, wait_ready


async def test_sigterm_finishes_in_flight_work_and_exits_zero(tmp_path: Path) -> None:
    upstream, webhook = StallingApp(), StallingApp()
    async with serve(upstream) as up, serve(webhook) as hook:
        api = seed_classic(up.url, hook.url + "/hook", cooldown=0)
        api["global_rate_limit"] = {"rate": 1, "per": 60}
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "api.json").write_text(json.dumps(api))
        port = unused_port()
        conf = tmp_path / "tyk.conf"
        conf.write_text(json.dumps({"listen_address": "127.0.0.1", "listen_port": port}))
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--conf", str(conf)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_ready(client, f"http://127.0.0.1:{port}/hello", proc)
                in_flight = asyncio.create_task(client.get("/example-local-webhook/slow"))
                await eventually(lambda: upstream.arrived == 1, "the request to reach the upstream")
                assert (await client.get("/example-local-webhook/again")).status_code == 429
                await eventually(lambda: webhook.arrived == 1, "the webhook to reach its target")
                proc.send_signal(signal.SIGTERM)
                upstream.release()
                assert (await in_flight).status_code == 200
                # The gateway is still draining: the webhook it is delivering holds the exit.
                assert proc.poll() is None
                webhook.release()
                exit_code = await asyncio.to_thread(proc.wait, 30)
        finally:
            upstream.release()
            webhook.release()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert exit_code == 0


async def test_sigterm_ends_an_open_dashboard_live_stream_and_exits_at_once(tmp_path: Path) -> None:
    """uvicorn waits for open responses before the app's shutdown; the live stream never ends on its
    own, so without the gateway ending it a SIGTERM took the 30 s graceful timeout."""
    port = unused_port()
    conf = tmp_path / "tyk.conf"
    settings = {
        "listen_address": "127.0.0.1",
        "listen_port": port,
        "secret": "s3cret",
        "dashboard": {"enabled": True},
    }
    conf.write_text(json.dumps(settings))
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "--conf", str(conf)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await wait_ready(client, f"http://127.0.0.1:{port}/hello", proc)
            token = await login_page(client)
            signed = await client.post("/dashboard/login", data={"secret": "s3cret", "csrf_token": token})
            assert signed.status_code == 303
            async with client.stream("GET", "/dashboard/events/stream") as stream:
                assert stream.status_code == 200
                began = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                async for _ in stream.aiter_bytes():  # ends when the gateway ends the stream
                    pass
            exit_code = await asyncio.to_thread(proc.wait, 30)
            took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert exit_code == 0
    assert took < 10, f"SIGTERM took {took:.1f} s with a live stream open"
