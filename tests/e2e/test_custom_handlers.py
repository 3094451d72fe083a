"""Python event handlers through the real gateway, from Classic and OAS definitions: the handler hears
the event; one that raises or overruns is cut off and logged while requests get their usual answers;
a handler whose file is missing is reported at load and the API's other handlers still run."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_classic, seed_oas

HANDLERS = """
import json, time
from pathlib import Path

def on_limit(event, context):
    out = Path(__file__).parent / f"heard-{context['APIID']}.json"
    out.write_text(json.dumps({"type": event["Type"], "path": event["Meta"]["Path"]}))

def broken(event, context):
    raise RuntimeError("handler bug")

def slow(event, context):
    time.sleep(1.5)
"""


def with_python_handlers(spec: dict[str, Any], kind: str, names: list[str]) -> dict[str, Any]:
    """The seed API (rate limit 2 per 10 s, a webhook on RatelimitExceeded) plus Python handlers."""
    if kind == "classic":
        hooks = spec["event_handlers"]["events"]["RatelimitExceeded"]
        for name in names:
            meta = {"name": name, "path": "handlers.py", "timeout": 0.3}
            hooks.append({"handler_name": "eh_dynamic_handler", "handler_meta": meta})
    else:
        hooks = spec["x-tyk-api-gateway"]["server"]["eventHandlers"]
        for name in names:
            entry = {"enabled": True, "trigger": "RatelimitExceeded", "type": "custom"}
            hooks.append({**entry, "functionName": name, "path": "handlers.py", "timeout": 0.3})
    return spec


async def poll(path: Path, timeout: float = 5.0) -> Any:
    """The JSON the handler wrote, once whole: `write_text` creates the file before it writes it, so a
    read between the two finds it empty."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = await asyncio.to_thread(lambda: path.read_text() if path.exists() else "")
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if loop.time() > deadline:
                raise TimeoutError(f"{path} was not written whole within {timeout}s: {text!r}") from None
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("kind", ["classic", "oas"])
async def test_python_handler_hears_the_event_and_failures_stay_contained(
    tmp_path: Path, kind: str, store_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    middleware = tmp_path / "middleware"
    middleware.mkdir()
    (middleware / "handlers.py").write_text(HANDLERS)
    recorder = WebhookRecorder()
    config = {**store_config, "middleware_path": "middleware"}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        seed = seed_classic if kind == "classic" else seed_oas
        spec = with_python_handlers(seed(upstream.url, hook.url), kind, ["broken", "slow", "on_limit"])
        api_id = spec.get("api_id") or spec["x-tyk-api-gateway"]["info"]["id"]
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            with caplog.at_level(logging.WARNING, logger="gateway.events"):
                codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(4)]
                assert codes == [200, 200, 429, 429]
                heard = await poll(middleware / f"heard-{api_id}.json")
                await recorder.wait_for(1)  # the webhook beside them still delivered
                await gw.idle()
                again = await gw.client.get("/example-local-webhook/get")
                assert again.status_code == 429
    assert heard == {"type": "RatelimitExceeded", "path": "/example-local-webhook/get"}
    failures = [r.getMessage() for r in caplog.records]
    assert any("'broken'" in m and "RuntimeError: handler bug" in m for m in failures)
    assert any("'slow'" in m and "ran past its 0.3 s limit" in m for m in failures)


async def test_a_missing_handler_file_is_reported_and_the_api_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        spec = with_python_handlers(seed_classic(upstream.url, hook.url), "classic", ["on_limit"])
        with caplog.at_level(logging.ERROR, logger="gateway.app"):
            async with run_gateway(tmp_path, apis=[spec]) as gw:
                codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(3)]
                await recorder.wait_for(1)
                await gw.idle()
    assert codes == [200, 200, 429]
    (line,) = [r.getMessage() for r in caplog.records if "handler skipped" in r.getMessage()]
    assert (
        "seed-classic" in line and "RatelimitExceeded[1]" in line and "file not found: 'handlers.py'" in line
    )
