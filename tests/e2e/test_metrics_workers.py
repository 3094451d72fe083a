"""Metrics with `python -m gateway --workers 2`: the request families are summed over both workers
(prometheus-client's multiprocess mode, one folder made before forking), whichever worker answers the
scrape; the folder is gone after a clean stop; a shared `metrics.listen_port` is refused by name."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import echo_app, serve, unused_port
from tests.e2e.test_metrics import samples, value
from tests.e2e.test_two_gateways import wait_ready
from tests.e2e.test_workers import ROOT, SECRET, children, write_conf


def keyless(upstream: str) -> dict[str, Any]:
    proxy = {"listen_path": "/open/", "target_url": upstream, "strip_listen_path": True}
    return {"api_id": "open", "org_id": "org1", "name": "open", "use_keyless": True, "proxy": proxy}


def limited(upstream: str) -> dict[str, Any]:
    """One request a minute for the whole API (shared on Redis): each refusal fires RatelimitExceeded."""
    api = {**keyless(upstream), "api_id": "lim", "name": "lim", "global_rate_limit": {"rate": 1, "per": 60}}
    api["proxy"] = {**api["proxy"], "listen_path": "/lim/"}
    log_handler = {"handler_name": "eh_log_handler", "handler_meta": {"prefix": "seen"}}
    api["event_handlers"] = {"events": {"RatelimitExceeded": [log_handler]}}
    return api


def metric_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("gateway-metrics-*"))


def with_metrics(conf: Path, metrics: dict[str, Any]) -> None:
    conf.write_text(json.dumps({**json.loads(conf.read_text()), "metrics": metrics}))


def test_a_shared_metrics_port_is_refused(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, unused_port(), {"type": "redis", "host": "127.0.0.1", "port": unused_port()})
    with_metrics(conf, {"enabled": True, "listen_port": unused_port()})
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--conf", str(conf), "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert '--workers: 2 workers cannot share "metrics.listen_port"' in done.stderr


async def test_two_workers_report_their_requests_together(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    port = unused_port()
    conf = write_conf(tmp_path, port, {"type": "redis", "host": redis_server.host, "port": redis_server.port})
    with_metrics(conf, {"enabled": True})
    out = tmp_path / "gateway.log"
    async with await serve(echo_app) as upstream:
        (tmp_path / "apps" / "open.json").write_text(json.dumps(keyless(upstream.url)))
        (tmp_path / "apps" / "lim.json").write_text(json.dumps(limited(upstream.url)))
        with out.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--conf", str(conf), "--workers", "2"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        before = metric_folders()
        made: set[Path] = set()
        try:
            async with httpx.AsyncClient() as client:
                await wait_ready(client, url + "/hello", proc)
                workers = children(proc.pid)
                assert len(workers) == 2
                made = metric_folders() - before
                assert len(made) == 1  # the parent's, made before forking
                for _ in range(10):  # a new connection each time: whichever worker accepts it answers
                    async with httpx.AsyncClient() as fresh:
                        assert (await fresh.get(url + "/open/x")).status_code == 200
                limits = []
                for _ in range(6):
                    async with httpx.AsyncClient() as fresh:
                        limits.append((await fresh.get(url + "/lim/x")).status_code)
                assert sorted(limits) == [200] + [429] * 5

                async def scrape() -> dict[Any, float]:
                    async with httpx.AsyncClient() as fresh:
                        reply = await fresh.get(url + "/metrics", headers={"x-tyk-authorization": SECRET})
                    assert reply.status_code == 200
                    return samples(reply.text)

                # Events are counted by the worker that fired them, copied to the shared files each second.
                events = ("tyk_gateway_events_total", {"event": "RatelimitExceeded"})
                deadline = asyncio.get_running_loop().time() + 10
                while value(await scrape(), events[0], **events[1]) < 5:
                    assert asyncio.get_running_loop().time() < deadline, "the events were not summed"
                for _ in range(4):  # every scrape, whichever worker answers it, sees all ten and all five
                    assert value(await scrape(), events[0], **events[1]) == 5
                    async with httpx.AsyncClient() as fresh:
                        reply = await fresh.get(url + "/metrics", headers={"x-tyk-authorization": SECRET})
                    assert reply.status_code == 200
                    found = samples(reply.text)
                    labels = {
                        "api_id": "open",
                        "http_request_method": "GET",
                        "http_response_status_code": "200",
                    }
                    assert value(found, "http_server_request_duration_seconds_count", **labels) == 10
                    assert value(found, "http_client_request_duration_seconds_count", api_id="open") == 10
        finally:
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0, out.read_text()
    assert made and not made & metric_folders()  # removed at exit
