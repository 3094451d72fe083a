"""`python -m gateway demo`: the gateway with the shipped examples, a local echo upstream on
127.0.0.1:8000 and a webhook receiver on 127.0.0.1:9000 that prints every event it gets.

With `--run` it also plays the README walkthrough (three quick requests: 200, 200, 429, then the
RatelimitExceeded payload) and exits 0 only if that is what happened. Demo only: never imported by the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway import config as config_mod
from gateway import log as log_mod
from gateway.app import Gateway
from gateway.errors import ConfigError
from gateway.testing.recorder import Delivery, WebhookRecorder
from gateway.testing.servers import echo_app

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


def _server(app: Any, port: int, lifespan: str = "off") -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan=lifespan, log_config=None,
                                         access_log=False, server_header=False, date_header=False))


async def _demo(cfg: config_mod.Config, walkthrough: bool) -> int:
    recorder = WebhookRecorder(on_delivery=_print_delivery)
    servers = [_server(echo_app, UPSTREAM_PORT), _server(recorder, RECEIVER_PORT),
               _server(Gateway(cfg), cfg.listen_port, lifespan="on")]
    for server in servers:
        # The demo handles signals itself, so Ctrl-C stops all three servers together.
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not all(s.started for s in servers):
        if any(t.done() for t in tasks) or loop.time() > deadline:
            print("demo: a server failed to start (is a port among 8000, 9000, "
                  f"{cfg.listen_port} in use?)", flush=True)
            return await _stop(servers, tasks, 1)
        await asyncio.sleep(0.05)
    base = f"http://127.0.0.1:{cfg.listen_port}"
    print(f"demo: gateway {base}, upstream http://127.0.0.1:{UPSTREAM_PORT}, "
          f"webhook receiver http://127.0.0.1:{RECEIVER_PORT}", flush=True)
    if not walkthrough:
        print(f"demo: try   for i in 1 2 3; do curl -s -o /dev/null -w '%{{http_code}}\\n' {base}{WALKTHROUGH_PATH}; done",
              flush=True)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return await _stop(servers, tasks, 0)
    async with httpx.AsyncClient(base_url=base) as client:
        codes = [(await client.get(WALKTHROUGH_PATH)).status_code for _ in range(3)]
    print(f"demo: three requests to {WALKTHROUGH_PATH} answered {codes}", flush=True)
    try:
        await recorder.wait_for(1, timeout=10)
        ok = codes == [200, 200, 429]
    except TimeoutError as exc:
        print(f"demo: {exc}", flush=True)
        ok = False
    return await _stop(servers, tasks, 0 if ok else 1)


async def _stop(servers: list[uvicorn.Server], tasks: list[asyncio.Task[None]], code: int) -> int:
    for server in reversed(servers):
        server.should_exit = True
    for task in tasks:
        with contextlib.suppress(Exception):
            await task
    return code


def run_demo(conf: str | None, walkthrough: bool = False) -> int:
    path = Path(conf) if conf else Path(__file__).resolve().parents[1] / "tyk.conf.example"
    try:
        cfg = config_mod.load(path)
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    log_mod.setup(cfg.log_level)
    return asyncio.run(_demo(cfg, walkthrough))
