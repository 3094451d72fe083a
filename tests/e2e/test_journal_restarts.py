"""The embedded store across real gateway restarts: rate-limit windows stay exact (a 1-per-60 s limit
lets nothing more through after a SIGTERM or a SIGKILL restart), and a journal cut while the gateway was
stopped refuses the start, loudly, until `--accept-journal-loss` is given once."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import echo_app, serve, unused_port
from tests.e2e.test_keys import keyed_api, session
from tests.e2e.test_two_gateways import ROOT, wait_ready

SECRET = "journal-e2e"


def write_conf(tmp_path: Path, upstream: str, port: int) -> Path:
    keyless = {
        "api_id": "open",
        "org_id": "org1",
        "name": "open",
        "use_keyless": True,
        "proxy": {"listen_path": "/open/", "target_url": upstream, "strip_listen_path": True},
        "global_rate_limit": {"rate": 1, "per": 60},
    }
    (tmp_path / "apps").mkdir(exist_ok=True)
    (tmp_path / "apps" / "keyed.json").write_text(json.dumps(keyed_api(upstream, "http://127.0.0.1:9/h")))
    (tmp_path / "apps" / "open.json").write_text(json.dumps(keyless))
    conf = tmp_path / "tyk.conf"
    raw = {"listen_address": "127.0.0.1", "listen_port": port, "secret": SECRET, "app_path": "apps"}
    conf.write_text(json.dumps(raw))
    return conf


def start(conf: Path, *flags: str, output: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "gateway", "--conf", str(conf), *flags]
    return subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)


async def stop(proc: subprocess.Popen[bytes], how: signal.Signals = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(how)
    return await asyncio.to_thread(proc.wait, 30)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_a_one_per_minute_limit_holds_across_a_restart(tmp_path: Path, how: signal.Signals) -> None:
    async with await serve(echo_app) as upstream:
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        conf = write_conf(tmp_path, upstream.url, port)
        proc = start(conf)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                await wait_ready(client, url + "/hello", proc)
                admin = {"x-tyk-authorization": SECRET}
                keys = []
                # A key with a quota (the window hit and the count in one store step) and one without.
                for quota in (100, -1):
                    made = await client.post(
                        "/tyk/keys", headers=admin, json=session(rate=1, per=60, quota_max=quota)
                    )
                    keys.append({"Authorization": made.json()["key"]})
                calls = [("/keyed/x", keys[0]), ("/keyed/x", keys[1]), ("/open/x", {})]
                assert [(await client.get(path, headers=h)).status_code for path, h in calls] == [200] * 3
                assert await stop(proc, how) == (0 if how == signal.SIGTERM else -9)
                proc = start(conf)
                await wait_ready(client, url + "/hello", proc)
                assert [(await client.get(path, headers=h)).status_code for path, h in calls] == [429] * 3
        finally:
            await stop(proc)


async def test_a_cut_journal_refuses_the_start_until_the_loss_is_accepted(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        conf = write_conf(tmp_path, upstream.url, port)
        proc = start(conf)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            try:
                await wait_ready(client, url + "/hello", proc)
                made = await client.post("/tyk/keys", headers={"x-tyk-authorization": SECRET}, json=session())
                key = {"Authorization": made.json()["key"]}
                assert (await client.get("/keyed/x", headers=key)).status_code == 200
            finally:
                assert await stop(proc) == 0
            journal = tmp_path / "data" / "store.aof"
            journal.write_bytes(b"".join(journal.read_bytes().splitlines(keepends=True)[:-1]))

            refused = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "gateway", "--conf", str(conf)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert refused.returncode != 0
            assert "store.aof: records lost: it ends at" in refused.stderr
            assert "--accept-journal-loss" in refused.stderr

            log = tmp_path / "accepted.log"
            with log.open("wb") as output:
                proc = start(conf, "--accept-journal-loss", output=output)
                try:
                    await wait_ready(client, url + "/hello", proc)
                finally:
                    assert await stop(proc) == 0
            assert "records lost" in log.read_text() and "accepted" in log.read_text()
            proc = start(conf)  # the journal was rewritten whole: no flag needed any more
            try:
                await wait_ready(client, url + "/hello", proc)
            finally:
                assert await stop(proc) == 0
