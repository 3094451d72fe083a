"""Two gateways on a three-node Redis Cluster (`storage.enable_cluster`, the nodes in `storage.addrs`):
keys and policies written through one are served by the other, a rate limit and a quota are shared
between them, their events are delivered through the Redis outbox, a group reload and a session change
reach the other gateway over pub/sub, and the keys keep Tyk's names (the quota counter untagged).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis.cluster

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.conftest import hooks_per_event
from tests.ha import redis_cluster

pytestmark = pytest.mark.redis

RIGHTS = {"cl": {"api_id": "cl", "api_name": "cl", "versions": ["Default"]}}


def api(upstream: str, hook: str) -> dict[str, Any]:
    return {
        "api_id": "cl",
        "org_id": "org1",
        "name": "cl",
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/cl/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks_per_event(hook, ["RatelimitExceeded", "QuotaExceeded"])},
    }


def policy(policy_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": policy_id, "name": policy_id, "org_id": "org1", "access_rights": RIGHTS, **fields}


async def key_with(gw: RunningGateway, policy_id: str) -> str:
    created = await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": [policy_id]})
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


async def test_two_gateways_share_a_cluster(tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    shared = tmp_path / "shared"
    with redis_cluster(tmp_path / "redis") as cluster:
        config = {
            "storage": cluster.storage,
            "app_path": str(shared / "apps"),
            "policies": {"policy_source": "file", "policy_path": str(shared / "policies")},
        }
        async with await serve(echo_app) as upstream, await serve(recorder) as hook:
            apis = [api(upstream.url, hook.url + "/hook")]
            async with (
                run_gateway(tmp_path / "gw1", apis=apis, config=config) as gw1,
                run_gateway(tmp_path / "gw2", apis=apis, config=config) as gw2,
            ):
                # Policies written through gw1 reach gw2 by a group reload over the cluster's pub/sub.
                for written in (
                    policy("gold", rate=2, per=60),
                    policy("bronze", rate=100, per=60, quota_max=2, quota_renewal_rate=3600),
                ):
                    assert (await gw1.admin("POST", "/tyk/policies", json=written)).status_code == 200
                assert (await gw1.admin("GET", "/tyk/reload/group")).status_code == 200

                async def gw2_has_them() -> bool:
                    return (await gw2.admin("GET", "/tyk/policies/bronze")).status_code == 200

                await eventually(gw2_has_them, "gw2 to reload on gw1's group reload")

                gold, bronze = await key_with(gw1, "gold"), await key_with(gw2, "bronze")
                listed = (await gw1.admin("GET", "/tyk/keys")).json()["keys"]  # a SCAN of every node
                assert {gold, bronze} <= set(listed)

                async def status(n: int, key: str) -> int:
                    gw = (gw1, gw2)[n % 2]
                    return (await gw.client.get("/cl/x", headers={"Authorization": key})).status_code

                # One rate limit and one quota, whichever gateway a request reaches.
                assert [await status(n, gold) for n in range(4)] == [200, 200, 429, 429]
                assert [await status(n, bronze) for n in range(4)] == [200, 200, 403, 403]
                await recorder.wait_for(4)
                await gw1.idle()
                await gw2.idle()
                events = sorted(d.path for d in recorder.deliveries)
                assert events == ["/hook/QuotaExceeded"] * 2 + ["/hook/RatelimitExceeded"] * 2

                # A key deleted through gw1 is refused by gw2 at once: its cached session was dropped.
                assert (await gw1.admin("DELETE", f"/tyk/keys/{gold}")).status_code == 200

                async def gw2_refuses() -> bool:
                    return await status(1, gold) == 403

                await eventually(gw2_refuses, "gw2 to drop the deleted key", timeout=3)

        nodes = [redis.cluster.ClusterNode("127.0.0.1", p) for p in cluster.ports]
        with redis.cluster.RedisCluster(startup_nodes=nodes, decode_responses=True) as direct:
            assert direct.exists(f"quota-{bronze}")  # Tyk's name: the window is tagged into its slot
            windows = list(
                direct.scan_iter(match="LIMITS:LIMITER/*", target_nodes=redis.cluster.RedisCluster.PRIMARIES)
            )
            assert f"LIMITS:LIMITER/{{quota-{bronze}}}rate-limit-{bronze}/100/60/second" in windows
            groups = direct.xinfo_groups("tyk-gateway-outbox")
            assert [g["name"] for g in groups] == ["gateway"]
            assert direct.xlen("tyk-gateway-outbox") == 0  # every delivery finished


async def test_a_master_crash_under_load_loses_no_event(tmp_path: Path) -> None:
    """Three masters with a replica each; the master serving the outbox stream is SIGKILLed under load.
    Requests whose slot was on it fail closed (500) until its replica is promoted; every event fired is
    delivered exactly once, and requests recover."""
    recorder = WebhookRecorder()
    statuses: dict[str, int] = {}  # request path -> status
    with redis_cluster(tmp_path / "redis", replicas=1) as cluster:
        config = {"storage": cluster.storage, "events": {"retry_base_delay": 0.05}}
        async with await serve(echo_app) as upstream, await serve(recorder) as hook:
            spec = api(upstream.url, hook.url + "/hook")
            async with run_gateway(tmp_path / "gw", apis=[spec], config=config) as gw:
                created = await gw.admin(
                    "POST",
                    "/tyk/keys",
                    json={"org_id": "org1", "rate": 1, "per": 60, "access_rights": RIGHTS},
                )
                key = created.json()["key"]
                sent = 0

                async def request() -> int:
                    nonlocal sent
                    sent += 1
                    path = f"/cl/{sent}"
                    resp = await gw.client.get(path, headers={"Authorization": key})
                    statuses[path] = resp.status_code
                    return resp.status_code

                assert [await request() for _ in range(3)] == [200, 429, 429]
                crashed = asyncio.Event()
                after = 0

                async def worker() -> None:
                    nonlocal after
                    while after < 60:
                        if await request() == 429 and crashed.is_set():
                            after += 1

                load = [asyncio.create_task(worker()) for _ in range(4)]
                old = cluster.master_of("tyk-gateway-outbox")
                new = await asyncio.to_thread(cluster.kill_master_of, "tyk-gateway-outbox")
                crashed.set()
                async with asyncio.timeout(30):
                    await asyncio.gather(*load)
                refused = [p for p, s in statuses.items() if s == 429]
                await recorder.wait_for(len(refused), timeout=30)
                await gw.idle()
    delivered = Counter(d.json()["path"] for d in recorder.deliveries)
    failed = Counter(s for s in statuses.values() if s not in (200, 429))
    print(
        f"\ncluster master {old} -> {new}: {len(statuses)} requests, {len(refused)} events fired, "
        f"{sum(delivered.values())} delivered, failed requests {dict(failed)}"
    )
    assert new != old
    assert set(failed) <= {500}  # a store outage fails closed, Tyk's way
    assert sorted(delivered) == sorted(refused) and max(delivered.values()) == 1
    assert set(list(statuses.values())[-10:]) == {429}  # recovered
