"""The quota trigger monitor's edges, end to end on both stores (test_monitor.py has the main paths).

Redacted keys in the payload (`events.redact_keys_in_payloads`), a per-API `access_rights` quota, one
request crossing two thresholds (both fire: not Tyk's one-per-request), and a threshold firing again
once its quota period has renewed.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from gateway.log import redact_key
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.test_limits import api, get, session
from tests.e2e.test_monitor import monitor, spend, triggers


async def test_redacted_key_in_payload(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {
            **store_config,
            **monitor(hook.url + "/hook", global_trigger_limit=50),
            "events": {"redact_keys_in_payloads": True},
        }
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            created = await gw.admin("POST", "/tyk/keys", json=session(quota_max=2, quota_renewal_rate=60))
            key = created.json()["key"]
            assert await spend(gw, key, 1) == [200]
            await gw.idle()
    (only,) = triggers(recorder)
    assert only["key"] == redact_key(key) != key
    assert key not in recorder.deliveries[0].body.decode()


async def test_per_api_quota_is_watched(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **monitor(hook.url + "/hook")}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            own = {"rate": 0, "per": 0, "quota_max": 4, "quota_renewal_rate": 60}
            fields = session(quota_max=-1, monitor={"trigger_limits": [50]})
            fields["access_rights"]["lim"]["limit"] = own  # the per-API quota, not the key's (unlimited)
            key = (await gw.admin("POST", "/tyk/keys", json=fields)).json()["key"]
            assert await spend(gw, key, 5) == [200] * 4 + [403]
            await gw.idle()
    assert [t["trigger_limit"] for t in triggers(recorder)] == ["50"]


async def test_one_request_crossing_two_thresholds_fires_both(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **monitor(hook.url + "/hook", global_trigger_limit=[25, 50])}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            created = await gw.admin("POST", "/tyk/keys", json=session(quota_max=2, quota_renewal_rate=60))
            key = created.json()["key"]
            assert await spend(gw, key, 1) == [200]  # 50 %: past 25 and 50 at once
            await gw.idle()
            assert sorted(t["trigger_limit"] for t in triggers(recorder)) == ["25", "50"]
            assert await spend(gw, key, 1) == [200]  # 100 %: nothing new
            await gw.idle()
    assert len(triggers(recorder)) == 2


async def test_threshold_fires_again_next_period(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        config = {**store_config, **monitor(hook.url + "/hook", global_trigger_limit=50)}
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            created = await gw.admin("POST", "/tyk/keys", json=session(quota_max=2, quota_renewal_rate=1))
            key = created.json()["key"]
            assert await spend(gw, key, 1) == [200]
            await gw.idle()
            assert len(triggers(recorder)) == 1
            # Poll (bounded) until the 1 s period renews and the first request of the next one fires.
            deadline = time.monotonic() + 10
            while len(triggers(recorder)) < 2 and time.monotonic() < deadline:
                await get(gw, key)
                await gw.idle()
                await asyncio.sleep(0.05)
    assert [t["trigger_limit"] for t in triggers(recorder)] == ["50", "50"]
