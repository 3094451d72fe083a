"""The middleware on a real context: a real embedded store, an injected clock, no server.

Each step's decision, status and message are Tyk's, and its event is recorded before the rejection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway import chain
from gateway.apidef.model import APISpec, AuthTokenSpec, RateSpec
from gateway.config.model import from_dict
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from gateway.events.bus import EventBus
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from gateway.store.limiter import Limiter
from gateway.store.memory import MemoryStore


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[Services]:
    store = MemoryStore(str(tmp_path / "data"))
    cfg = from_dict({}, base_dir=tmp_path, environ={})
    bus = EventBus(cfg.events)
    # Every event is "wanted", so the context records what each step fires.
    bus.wants = lambda api_id, event: True  # type: ignore[method-assign]
    yield Services(
        cfg,
        store,
        SessionStore(store, hash_keys=False, hash_function="", min_token_length=3),
        Limiter(store.rate_limit_storage()),
        bus,
        Clock(),
    )
    await store.close()


def spec(**kw: Any) -> APISpec:
    base: dict[str, Any] = {
        "api_id": "api1",
        "name": "a",
        "org_id": "org1",
        "listen_path": "/a/",
        "target_url": "http://127.0.0.1:1",
        "auth": AuthTokenSpec(),
    }
    return APISpec(**{**base, **kw})


def request(headers: dict[str, str] | None = None, query: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/a/x",
        "raw_path": b"/a/x",
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("10.1.2.3", 5555),
    }


async def run(
    services: Services, api: APISpec, scope: dict[str, Any]
) -> tuple[RequestContext, Reject | None]:
    ctx = RequestContext(api, scope, services)
    try:
        await chain.run(chain.build(api, services.config), ctx)
    except Reject as exc:
        return ctx, exc
    return ctx, None


async def add_key(services: Services, key: str, **fields: Any) -> None:
    raw = {"org_id": "org1", "rate": 0, "per": 0, "access_rights": {}, **fields}
    await services.sessions.save(key, Session.from_json(raw, "test"))


async def test_missing_credential_is_401_without_an_event(services: Services) -> None:
    ctx, rejected = await run(services, spec(), request())
    assert rejected is not None and (rejected.status, rejected.message) == (
        401,
        "Authorization field missing",
    )
    assert ctx.pending == []


async def test_unknown_key_fires_auth_failure_with_the_key_as_sent(services: Services) -> None:
    ctx, rejected = await run(services, spec(), request({"Authorization": "Bearer nobody"}))
    assert rejected is not None and (rejected.status, rejected.message) == (
        403,
        "Access to this API has been disallowed",
    )
    ((event, meta),) = ctx.pending
    assert event == "AuthFailure"
    assert meta.go_fields() == {
        "Message": "Auth Failure",
        "OriginatingRequest": "",
        "Path": "/a/x",
        "Origin": "10.1.2.3",
        "Key": "nobody",
    }


async def test_too_short_keys_are_unknown(services: Services) -> None:
    await add_key(services, "ab")
    _, rejected = await run(services, spec(), request({"Authorization": "ab"}))
    assert rejected is not None and rejected.status == 403


async def test_expiry_uses_the_injected_clock(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, Clock)
    await add_key(services, "key-exp", expires=int(clock.now) + 10)
    _, ok = await run(services, spec(), request({"Authorization": "key-exp"}))
    assert ok is None
    clock.now += 11
    ctx, rejected = await run(services, spec(), request({"Authorization": "key-exp"}))
    assert rejected is not None and (rejected.status, rejected.message) == (
        401,
        "Key has expired, please renew",
    )
    assert ctx.pending[0][0] == "KeyExpired"
    assert ctx.pending[0][1].message == "Attempted access from expired key."


async def test_inactive_is_checked_before_expiry(services: Services) -> None:
    await add_key(services, "key-off", is_inactive=True, expires=1)
    ctx, rejected = await run(services, spec(), request({"Authorization": "key-off"}))
    assert rejected is not None and (rejected.status, rejected.message) == (
        403,
        "Key is inactive, please renew",
    )
    assert ctx.pending[0][1].message == "Attempted access from inactive key."


async def test_access_rights(services: Services) -> None:
    await add_key(services, "key-other", access_rights={"other": {"api_id": "other", "versions": []}})
    ctx, rejected = await run(services, spec(), request({"Authorization": "key-other"}))
    assert rejected is not None and rejected.status == 403 and ctx.pending == []


async def test_key_rate_limit_uses_access_rights_limit_over_the_session(services: Services) -> None:
    rights = {"api1": {"api_id": "api1", "versions": [], "limit": {"rate": 1, "per": 60}}}
    await add_key(services, "key-lim", rate=100, per=1, access_rights=rights)
    assert (await run(services, spec(), request({"Authorization": "key-lim"})))[1] is None
    ctx, rejected = await run(services, spec(), request({"Authorization": "key-lim"}))
    assert rejected is not None and (rejected.status, rejected.message) == (429, "Rate Limit Exceeded")
    assert ctx.pending[0][1].go_fields()["Key"] == "key-lim"


async def test_api_rate_limit_names_the_api_limiter(services: Services) -> None:
    api = spec(auth=None, rate_limit=RateSpec(1, 60))
    assert (await run(services, api, request()))[1] is None
    ctx, rejected = await run(services, api, request({"X-Real-IP": "203.0.113.9"}))
    assert rejected is not None and (rejected.status, rejected.message) == (429, "API Rate Limit Exceeded")
    fields = ctx.pending[0][1].go_fields()
    assert fields["Key"] == "apilimiter-org1api1" and fields["Origin"] == "203.0.113.9"


async def test_rate_limits_headers_go_on_the_429(services: Services, tmp_path: Path) -> None:
    services.config = from_dict({"rate_limit_response_headers": "rate_limits"}, base_dir=tmp_path, environ={})
    api = spec(auth=None, rate_limit=RateSpec(1, 60))
    await run(services, api, request())
    _, rejected = await run(services, api, request())
    assert rejected is not None
    assert dict(rejected.headers)[b"x-ratelimit-limit"] == b"1"
    assert dict(rejected.headers)[b"x-ratelimit-remaining"] == b"0"


async def test_credential_from_query_and_cookie(services: Services) -> None:
    await add_key(services, "key-q")
    auth = AuthTokenSpec(use_param=True, param_name="tok", use_cookie=True, cookie_name="c")
    assert (await run(services, spec(auth=auth), request(query="tok=key-q")))[1] is None
    assert (await run(services, spec(auth=auth), request({"Cookie": "c=key-q; other=1"})))[1] is None


@pytest.mark.parametrize(("policy", "status"), [("closed", 500), ("open", None)])
async def test_store_outage_follows_the_policy_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, policy: str, status: int | None
) -> None:
    from gateway.store.redis import RedisStore
    from gateway.testing import unused_port

    cfg = from_dict(
        {"store_failure_policy": policy, "storage": {"type": "redis", "port": unused_port(), "timeout": 1}},
        base_dir=tmp_path,
        environ={},
    )
    store = RedisStore(cfg.storage)
    services = Services(
        cfg,
        store,
        SessionStore(store, hash_keys=False, hash_function="", min_token_length=3),
        Limiter(store.rate_limit_storage()),
        EventBus(cfg.events),
        Clock(),
    )
    api = spec(auth=None, rate_limit=RateSpec(5, 60))
    try:
        results = [(await run(services, api, request()))[1] for _ in range(3)]
    finally:
        await store.close()
    if status is None:
        assert results == [None, None, None]
    else:
        assert all(
            r is not None and (r.status, r.message) == (500, "there was a problem proxying the request")
            for r in results
        )
    outage_lines = [r for r in caplog.records if "store unavailable" in r.getMessage()]
    assert len(outage_lines) == 1 and f"failing {policy}" in outage_lines[0].getMessage()


async def test_two_spellings_of_a_custom_key_share_one_limit(services: Services) -> None:
    await add_key(services, "org1mine", rate=2, per=60)
    results = [
        (await run(services, spec(), request({"Authorization": k}))) for k in ("mine", "org1mine", "mine")
    ]
    assert [r[1] is None for r in results] == [True, True, False]
    assert all(ctx.key == "org1mine" for ctx, _ in results)


async def test_strip_auth_data_removes_header_query_and_cookie(services: Services) -> None:
    await add_key(services, "key-s")
    auth = AuthTokenSpec(
        use_param=True, param_name="tok", use_cookie=True, cookie_name="c", strip_auth_data=True
    )
    ctx, rejected = await run(
        services,
        spec(auth=auth),
        request({"Authorization": "key-s", "Cookie": "a=1; c=key-s; b=2"}, "x=1&tok=key-s&y"),
    )
    assert rejected is None
    assert ctx.outgoing.drop == {b"authorization", b"cookie"}
    assert ctx.outgoing.query == b"x=1&y" and ctx.outgoing.add == (("cookie", "a=1; b=2"),)
