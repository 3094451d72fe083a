"""The gateway on Redis Sentinel (`storage.master_name`, the sentinels in `storage.addrs`): keyed requests
with a rate limit, each refusal's RatelimitExceeded webhook delivered through the Redis outbox, then a
Sentinel failover under load: every event fired is delivered exactly once and requests recover.

One key allowed 1 request per minute: after the first, every request is a 429 that fires one event,
whose webhook body names the request's unique path, so deliveries and refusals are matched one to one.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event
from tests.ha import sentinel_set

pytestmark = pytest.mark.redis

AFTER_FAILOVER = 60  # requests answered by the new master before the load stops
WORKERS = 4


def api(upstream: str, hook: str) -> dict[str, Any]:
    return {
        "api_id": "ha",
        "org_id": "org1",
        "name": "ha",
        "use_keyless": False,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/ha/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks_per_event(hook, ["RatelimitExceeded"])},
    }


async def new_key(gw: RunningGateway) -> str:
    rights = {"ha": {"api_id": "ha", "api_name": "ha", "versions": ["Default"]}}
    body = {"org_id": "org1", "rate": 1, "per": 60, "quota_max": -1, "access_rights": rights}
    created = await gw.admin("POST", "/tyk/keys", json=body)
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


@pytest.mark.parametrize("how", ["failover", "kill"])
async def test_failover_under_load_loses_no_event(tmp_path: Path, how: str) -> None:
    """`failover`: SENTINEL FAILOVER, the old master still up (a planned switch); `kill`: the master
    SIGKILLed, the sentinel failing over after 1 s (a crash: requests fail closed, 500, until then)."""
    recorder = WebhookRecorder()
    statuses: dict[str, int] = {}  # request path -> status
    failing: list[float] = []  # when each failed request was answered
    with sentinel_set(tmp_path / "redis") as redis_set:
        async with await serve(echo_app) as upstream, await serve(recorder) as hook:
            config = {"storage": redis_set.storage, "events": {"retry_base_delay": 0.05}}
            async with run_gateway(
                tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config
            ) as gw:
                key = await new_key(gw)
                sent = 0

                async def request() -> int:
                    nonlocal sent
                    sent += 1
                    path = f"/ha/{sent}"
                    resp = await gw.client.get(path, headers={"Authorization": key})
                    statuses[path] = resp.status_code
                    if resp.status_code not in (200, 429):
                        failing.append(asyncio.get_running_loop().time())
                    return resp.status_code

                # Before: one request passes, the rest are refused and each refusal is delivered.
                assert [await request() for _ in range(5)] == [200, 429, 429, 429, 429]
                await recorder.wait_for(4)

                # During: workers keep requests flowing while Sentinel moves the master.
                switched = asyncio.Event()
                answered_after = 0

                async def worker() -> None:
                    nonlocal answered_after
                    while answered_after < AFTER_FAILOVER:
                        status = await request()
                        if switched.is_set() and status == 429:
                            answered_after += 1

                load = [asyncio.create_task(worker()) for _ in range(WORKERS)]
                old = redis_set.master_port()
                switch = redis_set.failover if how == "failover" else redis_set.kill_master
                new = await asyncio.to_thread(switch)
                switched.set()
                async with asyncio.timeout(30):
                    await asyncio.gather(*load)
                refused = [p for p, s in statuses.items() if s == 429]
                await recorder.wait_for(len(refused), timeout=30)
                await gw.idle()

    delivered = Counter(d.json()["path"] for d in recorder.deliveries)
    failed = Counter(s for s in statuses.values() if s not in (200, 429))
    print(  # the figures the README quotes: pytest -s shows them
        f"\nsentinel {how} {old} -> {new}: {len(statuses)} requests, {len(refused)} events fired, "
        f"{sum(delivered.values())} delivered, failed requests {dict(failed)}"
        f"{f' over {failing[-1] - failing[0]:.1f} s' if failing else ''}"
    )
    assert new != old
    assert set(failed) <= {500}  # a store outage fails closed, Tyk's way; nothing else goes wrong
    assert sorted(delivered) == sorted(refused)  # every event delivered
    assert max(delivered.values()) == 1  # and none twice
    assert set(list(statuses.values())[-10:]) == {429}  # recovered: the new master has the key and window
