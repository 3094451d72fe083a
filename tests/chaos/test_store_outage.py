"""A gateway on a Redis that is SIGKILLed for 5 s, under each `store_failure_policy`, on a token, a Basic
auth and a JWT API whose credentials were each used once (so cached) before the kill.

`open` (grace 2.5 s): known keys keep getting 200 through the grace, their rate limits and quotas (and
smoothing) let through; an unknown key gets 500; a key cached as absent keeps its 403, and its
AuthFailure webhook (its cooldown cannot be kept) is held and delivered once Redis is back. Past the
grace every key gets 500.
`closed`: every keyed request gets 500. Either way the REST API answers 500 and /hello "fail". Then a key
is deleted in Redis's data while this gateway cannot see it, Redis restarts, and every key works again
except that one: what the outage kept was dropped. `pytest -s` prints the counts the docs quote.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis

from gateway.identity.cache import SessionCache
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.conftest import free_port
from tests.ha import binary, until

pytestmark = [pytest.mark.redis, pytest.mark.chaos]

GRACE = 2.5  # store_outage_grace here: short, so the test sees it run out
OUTAGE = 5.0  # seconds of requests while Redis is down
MARGIN = 0.5  # around the grace's end, where either answer is right (it started at the kill)
SECRET = b"a secret of 32 bytes or more, for HS256"
RIGHTS = {api: {"api_id": api, "versions": ["Default"]} for api in ("outage", "shop", "jwt-api")}


class PrivateRedis:
    """A redis-server of this test's own on a fixed port, so it can be killed and started again there;
    its data survives a kill only through an explicit SAVE (dump.rdb in `folder`)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, port: int | None = None) -> subprocess.Popen[bytes]:
        port = port or self.port
        args = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", ""]
        args += ["--appendonly", "no", "--logfile", str(self.folder / f"{port}.log")]
        proc = subprocess.Popen([binary("redis-server"), *args])
        until(lambda: self.client(port).ping(), f"redis-server on {port}")
        if port == self.port:
            self.proc = proc
        return proc

    def client(self, port: int | None = None) -> redis.Redis:
        return redis.Redis("127.0.0.1", port or self.port, socket_timeout=2, decode_responses=True)

    def kill(self) -> None:
        assert self.proc is not None
        self.client().save()  # what a restart will load
        self.proc.kill()
        self.proc.wait(5)

    def delete_offline(self, name: str) -> None:
        """Delete `name` from the saved data while the gateway's Redis is down: another path (another
        gateway's network, an operator) that this gateway cannot hear about."""
        other = free_port()
        proc = self.start(other)
        assert self.client(other).delete(name) == 1
        self.client(other).save()
        proc.kill()
        proc.wait(5)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def apis(upstream: str, hook: str) -> list[dict[str, Any]]:
    proxy = {"target_url": upstream, "strip_listen_path": True}
    # A cooldown, which the store keeps: during the outage it cannot be kept, and each event is sent.
    auth_failure = {"handler_name": "eh_web_hook_handler", "handler_meta": {"method": "POST"}}
    auth_failure["handler_meta"].update(target_path=f"{hook}/AuthFailure", event_timeout=60)
    common = {"org_id": "org1", "event_handlers": {"events": {"AuthFailure": [auth_failure]}}}
    token = {"api_id": "outage", "name": "outage", "use_keyless": False}
    token |= {"auth_configs": {"authToken": {"auth_header_name": "Authorization"}}}
    basic = {"api_id": "shop", "name": "shop", "use_basic_auth": True}
    jwt_api = {"api_id": "jwt-api", "name": "jwt-api", "enable_jwt": True, "jwt_signing_method": "hmac"}
    jwt_api |= {"jwt_source": base64.b64encode(SECRET).decode(), "jwt_identity_base_field": "sub"}
    jwt_api |= {"jwt_policy_field_name": "pol"}
    return [
        {**api, **common, "proxy": {**proxy, "listen_path": f"/{api['api_id']}/"}}
        for api in (token, basic, jwt_api)
    ]


def config(tmp_path: Path, port: int, policy: str) -> dict[str, Any]:
    (tmp_path / "policies").mkdir()
    gold = {"id": "gold", "org_id": "org1", "access_rights": {"jwt-api": RIGHTS["jwt-api"]}}
    (tmp_path / "policies" / "gold.json").write_text(json.dumps(gold))
    return {
        "storage": {"type": "redis", "host": "127.0.0.1", "port": port, "timeout": 1},
        "store_failure_policy": policy,
        "store_outage_grace": GRACE,
        "enable_rate_limit_smoothing": True,
        "policies": {"policy_path": "policies"},
        "events": {"retry_base_delay": 0.05},
    }


async def new_key(gw: RunningGateway, **limits: Any) -> str:
    body = {"org_id": "org1", "rate": 1000, "per": 60, "quota_max": 1000, "quota_renewal_rate": 3600}
    created = await gw.admin("POST", "/tyk/keys", json={**body, **limits, "access_rights": RIGHTS})
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


async def status(gw: RunningGateway, path: str, headers: dict[str, str]) -> int:
    return (await gw.client.get(path, headers=headers)).status_code


async def load(gw: RunningGateway, credentials: dict[str, tuple[str, dict[str, str]]]) -> list[Any]:
    """Every credential in turn, back to back, for OUTAGE seconds: (seconds since start, name, status)."""
    loop = asyncio.get_running_loop()
    start, seen = loop.time(), []
    while loop.time() - start < OUTAGE:
        for name, (path, headers) in credentials.items():
            seen.append((loop.time() - start, name, await status(gw, path, headers)))
    return seen


@pytest.mark.parametrize("policy", ["open", "closed"])
async def test_a_redis_outage_follows_the_policy_and_recovers(tmp_path: Path, policy: str) -> None:
    recorder = WebhookRecorder()
    server = PrivateRedis(tmp_path / "redis")
    await asyncio.to_thread(server.start)
    try:
        async with await serve(echo_app) as upstream, await serve(recorder) as hook:
            cfg = config(tmp_path, server.port, policy)
            async with run_gateway(tmp_path, apis=apis(upstream.url, hook.url), config=cfg) as gw:
                cache = gw.gateway.parts.sessions.cache
                assert isinstance(cache, SessionCache)
                await eventually(lambda: cache.live, "the session cache's subscription")
                plain, doomed = await new_key(gw), await new_key(gw)
                smoothing = {"enabled": True, "threshold": 500, "trigger": 0.5, "step": 100, "delay": 1}
                smooth = await new_key(gw, smoothing=smoothing)
                user = {"org_id": "org1", "basic_auth_data": {"password": "s3cret"}, "access_rights": RIGHTS}
                assert (await gw.admin("POST", "/tyk/keys/alice", json=user)).status_code == 200
                login = base64.b64encode(b"alice:s3cret").decode()
                token = jwt.encode({"sub": "carol", "pol": "gold"}, SECRET, algorithm="HS256")
                known = {
                    "plain": ("/outage/x", {"Authorization": plain}),
                    "smoothed": ("/outage/x", {"Authorization": smooth}),
                    "basic": ("/shop/x", {"Authorization": f"Basic {login}"}),
                    "jwt": ("/jwt-api/x", {"Authorization": f"Bearer {token}"}),
                }
                absent = ("/outage/x", {"Authorization": "nobody-1234"})  # refused once: cached absent
                unknown = ("/outage/x", {"Authorization": "never-seen-5678"})
                doomed_call = ("/outage/x", {"Authorization": doomed})
                for path, headers in [*known.values(), doomed_call] * 2:  # the JWT user's 1st creates it
                    assert await status(gw, path, headers) == 200
                assert await status(gw, *absent) == 403
                await recorder.wait_for(1)
                before = len(recorder.deliveries)

                server.kill()
                await eventually(lambda: not cache.live, "the subscription to drop")
                seen = await load(gw, {**known, "absent": absent, "unknown": unknown})
                key_shown = (await gw.admin("GET", f"/tyk/keys/{plain}")).status_code
                health = (await gw.client.get("/hello")).json()["status"]
                await asyncio.to_thread(server.delete_offline, "apikey-" + doomed)
                await asyncio.to_thread(server.start)

                async def recovered() -> bool:
                    return all([await status(gw, *call) == 200 for call in known.values()])

                await eventually(recovered, "every known key to be served again", timeout=15)
                after = [await status(gw, *call) for call in (doomed_call, unknown, absent)]
                if policy == "open":  # held while the outbox could not be written, then delivered
                    await recorder.wait_for(before + 1, timeout=15)
    finally:
        server.stop()

    early = Counter((name, code) for at, name, code in seen if at < GRACE - MARGIN)
    late = Counter((name, code) for at, name, code in seen if at > GRACE + MARGIN)
    names = [*known, "absent", "unknown"]
    served = Counter(name for _, name, code in seen if code == 200)
    print(  # the figures docs/deployment.md quotes: pytest -s shows them
        f"\n{policy}: {len(seen)} requests in a {OUTAGE:g} s outage (grace {GRACE:g} s): "
        f"{sum(served.values())} served {dict(served)}, {len(seen) - sum(served.values())} refused "
        f"{dict(Counter(code for *_, code in seen if code != 200))}"
    )
    if policy == "open":
        assert {name: {c for (n, c) in early if n == name} for name in names} == {
            **{name: {200} for name in known},
            "absent": {403},  # known to be absent: refused as before the outage
            "unknown": {500},
        }
    else:
        assert {code for (_, code) in early} == {500}
    assert {code for (_, code) in late} == {500}  # past the grace every key fails, open or closed
    assert (key_shown, health) == (500, "fail")
    assert after == [403, 403, 403]  # the key deleted meanwhile is not served from what the outage kept
