"""`python -m gateway` with `log_format: "json"` at debug level through a keyed scenario (keys made with
/tyk/keys, used, rate limited, refused, deleted; webhook and log handlers on the events): every line it
writes, uvicorn's included, is one JSON object, and no line holds a raw key it made."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.testing import WebhookRecorder, echo_app, serve, unused_port
from tests.e2e.test_keys import keyed_api, session
from tests.e2e.test_two_gateways import ROOT, wait_ready

SECRET = "log-lines-secret"


async def test_json_log_lines_and_no_raw_key_in_any(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = keyed_api(upstream.url, hook.url)
        for handlers in api["event_handlers"]["events"].values():
            handlers.append({"handler_name": "eh_log_handler", "handler_meta": {"prefix": "seen"}})
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "keyed.json").write_text(json.dumps(api))
        port = unused_port()
        conf = tmp_path / "tyk.conf"
        conf.write_text(
            json.dumps(
                {
                    "listen_address": "127.0.0.1",
                    "listen_port": port,
                    "secret": SECRET,
                    "app_path": "apps",
                    "storage": {"type": "embedded", "path": "data"},
                    "log_format": "json",
                    "log_level": "debug",
                }
            )
        )
        stderr = tmp_path / "stderr.log"
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gateway", "--conf", str(conf)],
                cwd=ROOT,
                stdout=err,
                stderr=subprocess.STDOUT,
            )
        keys: list[str] = []
        try:
            admin = {"x-tyk-authorization": SECRET}
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                await wait_ready(client, f"http://127.0.0.1:{port}/hello", proc)
                for _ in range(2):
                    made = await client.post("/tyk/keys", json=session(rate=2, per=60), headers=admin)
                    assert made.status_code == 200, made.text
                    keys.append(made.json()["key"])
                custom = "custom-raw-key-0123456789"
                put = await client.post(f"/tyk/keys/{custom}", json=session(rate=2, per=60), headers=admin)
                assert put.status_code == 200, put.text
                keys.append(custom)
                codes = [
                    (await client.get("/keyed/x", headers={"Authorization": key})).status_code
                    for key in keys
                    for _ in range(3)
                ]
                assert codes == [200, 200, 429] * 3
                refused = await client.get("/keyed/x", headers={"Authorization": "unknown-raw-key-98765"})
                assert refused.status_code == 403
                assert (await client.get(f"/tyk/keys/{keys[0]}", headers=admin)).status_code == 200
                assert (await client.delete(f"/tyk/keys/{keys[1]}", headers=admin)).status_code == 200
                await recorder.wait_for(4)  # three rate limits and the auth failure
                proc.send_signal(signal.SIGTERM)
                assert await asyncio.to_thread(proc.wait, 30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    lines = stderr.read_text(encoding="utf-8").splitlines()
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(p) for p in parsed)
    loggers = {p["logger"] for p in parsed}
    assert {"uvicorn.error", "gateway.app", "gateway.handlers.log"} <= loggers
    seen = [p for p in parsed if p["message"].startswith("seen:RatelimitExceeded")]
    assert len(seen) == 3 and all(p.get("request_id") and p.get("api_id") == "keyed" for p in seen)
    for key in [*keys, "unknown-raw-key-98765"]:
        leaked = [line for line in lines if key in line]
        assert not leaked, f"raw key {key!r} in the log: {leaked[:3]}"
