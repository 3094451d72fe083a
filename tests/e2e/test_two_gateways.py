"""Two gateway processes sharing one Redis: one rate limit, one cooldown, between them.

"2 per 10s" lets exactly 2 requests through in total, whichever gateway they reach, and the identical
RatelimitExceeded events that both gateways fire within the cooldown produce one webhook.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import WebhookRecorder, echo_app, serve, unused_port
from tests.e2e.conftest import seed_classic

ROOT = Path(__file__).resolve().parents[2]


async def wait_ready(client: httpx.AsyncClient, url: str, proc: subprocess.Popen[bytes]) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while loop.time() < deadline:
        assert proc.poll() is None, "gateway exited during start"
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.05)  # bounded poll while the process starts listening
    raise AssertionError(f"{url} never became ready")


async def test_two_gateways_share_limit_and_cooldown(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apps = tmp_path / "apps"
        apps.mkdir()
        (apps / "seed.json").write_text(
            json.dumps(seed_classic(upstream.url, hook.url + "/hook", cooldown=30))
        )
        procs, urls = [], []
        for n in range(2):
            port = unused_port()
            conf = tmp_path / f"gw{n}.conf"
            conf.write_text(
                json.dumps(
                    {
                        "listen_address": "127.0.0.1",
                        "listen_port": port,
                        "app_path": "apps",
                        "storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port},
                    }
                )
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway", "--conf", str(conf)],
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        try:
            async with httpx.AsyncClient() as client:
                for url, proc in zip(urls, procs, strict=True):
                    await wait_ready(client, url + "/hello", proc)
                codes = [
                    (await client.get(urls[i % 2] + "/example-local-webhook/get")).status_code
                    for i in range(6)
                ]
                await recorder.wait_for(1)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            # SIGTERM drains each gateway's queue before exit: every webhook that will be sent is sent.
            # Waited in threads: the recorder in this event loop must stay able to receive a late duplicate.
            exits = [await asyncio.to_thread(proc.wait, 30) for proc in procs]
    assert sorted(codes) == [200, 200, 429, 429, 429, 429]
    assert exits == [0, 0]
    assert len(recorder.deliveries) == 1
    assert recorder.deliveries[0].json()["event"] == "RatelimitExceeded"
