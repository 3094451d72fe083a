"""`python -m gateway --workers 2` on Redis: two processes share the listener and one rate limit, a
group reload reaches both, SIGTERM stops both cleanly; more than one worker on the embedded store is
refused at once, naming the option."""

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
from tests.e2e.test_keys import keyed_api, session
from tests.e2e.test_two_gateways import wait_ready

ROOT = Path(__file__).resolve().parents[2]
SECRET = "workers-secret"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, NotADirectoryError):
            continue
        if int(stat[stat.rfind(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def alive(pids: list[int]) -> list[int]:
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


def write_conf(tmp_path: Path, port: int, storage: dict[str, Any]) -> Path:
    conf = tmp_path / "tyk.conf"
    settings = {"listen_address": "127.0.0.1", "listen_port": port, "secret": SECRET, "app_path": "apps"}
    conf.write_text(json.dumps({**settings, "storage": storage}))
    (tmp_path / "apps").mkdir(exist_ok=True)
    return conf


def test_more_than_one_worker_needs_redis(tmp_path: Path) -> None:
    conf = write_conf(tmp_path, unused_port(), {"type": "embedded", "path": "data"})
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "--conf", str(conf), "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--workers" in done.stderr and '"storage.type": "redis"' in done.stderr


async def test_two_workers_share_the_listener_the_limit_and_group_reloads(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    port = unused_port()
    conf = write_conf(tmp_path, port, {"type": "redis", "host": redis_server.host, "port": redis_server.port})
    out = tmp_path / "gateway.log"
    async with await serve(echo_app) as upstream, await serve(WebhookRecorder()) as hook:
        (tmp_path / "apps" / "keyed.json").write_text(json.dumps(keyed_api(upstream.url, hook.url)))
        with out.open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--conf", str(conf), "--workers", "2"],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient() as client:
                await wait_ready(client, url + "/hello", proc)
                assert len(children(proc.pid)) == 2
                admin = {"x-tyk-authorization": SECRET}
                made = await client.post(url + "/tyk/keys", json=session(rate=3, per=60), headers=admin)
                key = made.json()["key"]
                codes = []
                for _ in range(8):  # a new connection each time: whichever worker accepts it answers
                    async with httpx.AsyncClient() as fresh:
                        reply = await fresh.get(url + "/keyed/x", headers={"Authorization": key})
                        codes.append(reply.status_code)
                assert sorted(codes) == [200] * 3 + [429] * 5
                # A second API, then one group reload: both workers load it.
                second = {**keyed_api(upstream.url, hook.url), "api_id": "second", "name": "second"}
                second["proxy"] = {**second["proxy"], "listen_path": "/second/"}
                (tmp_path / "apps" / "second.json").write_text(json.dumps(second))
                assert (await client.get(url + "/tyk/reload/group", headers=admin)).status_code == 200
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while out.read_text().count("loaded 2 APIs") < 2:
                    assert loop.time() < deadline, out.read_text()
                    await asyncio.sleep(0.05)  # bounded poll for the other worker's reload
        finally:
            workers = children(proc.pid)
            proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(proc.wait, 30)
    assert code == 0, out.read_text()
    assert not alive(workers)


async def test_workers_stop_when_their_parent_is_killed(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    """SIGKILL of the parent leaves no worker serving: the kernel's parent-death signal stops each one,
    and the next start binds the same port."""
    port = unused_port()
    conf = write_conf(tmp_path, port, {"type": "redis", "host": redis_server.host, "port": redis_server.port})
    argv = [sys.executable, "-m", "gateway", "--conf", str(conf), "--workers", "2"]
    url = f"http://127.0.0.1:{port}"
    loop = asyncio.get_running_loop()
    with (tmp_path / "gateway.log").open("wb") as log:
        first = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        async with httpx.AsyncClient() as client:
            await wait_ready(client, url + "/hello", first)
        workers = children(first.pid)
        assert len(workers) == 2
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 30)
        deadline = loop.time() + 30
        while alive(workers):
            assert loop.time() < deadline, f"workers {alive(workers)} outlived their parent"
            await asyncio.sleep(0.05)  # bounded poll for the workers' exit
        second = subprocess.Popen(argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            async with httpx.AsyncClient() as client:
                await wait_ready(client, url + "/hello", second)
        finally:
            second.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(second.wait, 30)
    assert code == 0, (tmp_path / "gateway.log").read_text()
