"""`python -m gateway demo`: the gateway with the shipped examples, a local echo upstream on
127.0.0.1:8000 and a webhook receiver on 127.0.0.1:9000 that prints every event it gets.

With `--run` it also plays the README walkthrough (three quick requests: 200, 200, 429, then the
RatelimitExceeded payload) and exits 0 only if that is what happened. Demo only: the gateway never
imports it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import tempfile

import httpx

from gateway import log as log_mod
from gateway.app import listener
from gateway.app.gateway import Gateway
from gateway.config import model as config_mod
from gateway.errors import ConfigError
from gateway.packaged import EXAMPLE_CONF
from gateway.testing.recorder import Delivery, WebhookRecorder
from gateway.testing.servers import Served, echo_app, serve

UPSTREAM_PORT = 8000
RECEIVER_PORT = 9000
WALKTHROUGH_PATH = "/example-local-webhook/get"


def _print_delivery(delivery: Delivery) -> None:
    try:
        shown = json.dumps(delivery.json(), indent=2)
    except ValueError:
        shown = delivery.body.decode("utf-8", "replace")
    custom = {k: v for k, v in delivery.headers.items() if k.startswith("x-")}
    print(f"\n[webhook receiver] {delivery.method} {delivery.path} headers={custom}\n{shown}\n", flush=True)


async def _demo(cfg: config_mod.Config, walkthrough: bool) -> int:
    recorder = WebhookRecorder(on_delivery=_print_delivery)
    try:
        upstream = await serve(echo_app, port=UPSTREAM_PORT)
    except OSError as exc:
        print(f"demo: cannot listen on 127.0.0.1:{UPSTREAM_PORT}: {exc.strerror}", flush=True)
        return 1
    servers = [upstream]
    try:
        servers.append(await serve(recorder, port=RECEIVER_PORT))
        limits = listener.protocol(cfg.http_server_options)
        servers.append(await serve(Gateway(cfg), port=cfg.listen_port, lifespan="on", protocol=limits))
    except (OSError, RuntimeError) as exc:
        print(
            f"demo: a server failed to start (ports 8000, 9000, {cfg.listen_port} free?): {exc}", flush=True
        )
        return await _stop(servers, 1)
    base = f"http://127.0.0.1:{cfg.listen_port}"
    print(f"demo: gateway {base}, upstream {upstream.url}, webhook receiver {servers[1].url}", flush=True)
    if not walkthrough:
        curl = f"curl -s -o /dev/null -w '%{{http_code}}\\n' {base}{WALKTHROUGH_PATH}"
        print(f"demo: try   for i in 1 2 3; do {curl}; done   (Ctrl-C stops)", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return await _stop(servers, 0)
    async with httpx.AsyncClient(base_url=base) as client:
        codes = [(await client.get(WALKTHROUGH_PATH)).status_code for _ in range(3)]
    print(f"demo: three requests to {WALKTHROUGH_PATH} answered {codes}", flush=True)
    try:
        await recorder.wait_for(1, timeout=10)
        ok = codes == [200, 200, 429]
    except TimeoutError as exc:
        print(f"demo: {exc}", flush=True)
        ok = False
    return await _stop(servers, 0 if ok else 1)


async def _stop(servers: list[Served], code: int) -> int:
    for served in reversed(servers):  # the gateway first, so its queued events still reach the receiver
        await served.close()
    return code


def run_demo(conf: str | None, walkthrough: bool = False) -> int:
    try:
        cfg = config_mod.load(conf or EXAMPLE_CONF)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    log_mod.setup(cfg.log_level, cfg.log_format)
    if conf:
        return asyncio.run(_demo(cfg, walkthrough))
    # The packaged example's store folder would sit inside the installed package: the demo keeps its
    # keys, counters and outbox in a folder of its own that goes when it ends.
    with tempfile.TemporaryDirectory(prefix="gateway-demo-") as folder:
        storage = dataclasses.replace(cfg.storage, path=folder)
        return asyncio.run(_demo(dataclasses.replace(cfg, storage=storage), walkthrough))
