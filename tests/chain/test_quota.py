"""Key quotas and organisation limits on a real context (embedded store, injected clock): who is
counted on which counter, Tyk's statuses and messages, the event recorded once per refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import chain
from gateway.apidef.model import AuthTokenSpec
from gateway.config.model import from_dict
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from tests.chain import test_chain
from tests.chain.test_chain import add_key, request, run, spec

QUOTA_BODY = "Quota exceeded"

services = test_chain.services  # the shared fixture, used here under its own name


async def test_exactly_quota_max_pass_and_each_refusal_fires_once(services: Services) -> None:
    await add_key(services, "key-q", quota_max=2, quota_renewal_rate=0)
    results = [await run(services, spec(), request({"Authorization": "key-q"})) for _ in range(4)]
    assert [r is None for _, r in results] == [True, True, False, False]
    for ctx, rejected in results[2:]:
        assert rejected is not None and (rejected.status, rejected.message) == (403, QUOTA_BODY)
        [(event, meta)] = ctx.pending
        assert event == "QuotaExceeded"
        assert meta.go_fields() | {"OriginatingRequest": ""} == {
            "Message": "Key Quota Limit Exceeded",
            "Path": "/a/x",
            "Origin": "10.1.2.3",
            "Key": "key-q",
            "OriginatingRequest": "",
        }
    # Blocked requests are counted too (Tyk), on the counter the REST API reads.
    assert await services.store.get("quota-key-q") == "4"
    assert await services.sessions.used_quota("key-q") == 4


async def test_remaining_and_renews_are_written_back_for_the_headers(services: Services) -> None:
    await add_key(services, "key-r", quota_max=5, quota_renewal_rate=3600)
    ctx, _ = await run(services, spec(), request({"Authorization": "key-r"}))
    assert ctx.outgoing.quota_live == (4, int(services.clock() + 3600))


@pytest.mark.parametrize("quota_max", [0, -1, -5])
async def test_zero_or_negative_quota_is_unlimited(services: Services, quota_max: int) -> None:
    await add_key(services, "key-u", quota_max=quota_max)
    for _ in range(3):
        assert (await run(services, spec(), request({"Authorization": "key-u"})))[1] is None
    assert await services.store.get("quota-key-u") is None


async def test_the_access_rights_limit_overrides_and_its_scope_names_the_counter(services: Services) -> None:
    rights = {
        "api1": {"api_id": "api1", "allowance_scope": "shared", "limit": {"quota_max": 1, "rate": 0}},
    }
    await add_key(services, "key-a", quota_max=100, access_rights=rights)
    ctx, ok = await run(services, spec(), request({"Authorization": "key-a"}))
    assert ok is None and ctx.outgoing.quota_live is not None
    assert ctx.outgoing.quota_live[0] == 0
    _, refused = await run(services, spec(), request({"Authorization": "key-a"}))
    assert refused is not None and refused.status == 403
    assert await services.store.get("quota-shared-key-a") == "2"
    assert await services.store.get("quota-key-a") is None


async def test_hashed_keys_count_on_the_hash(services: Services) -> None:
    services.sessions = SessionStore(services.store, hash_keys=True, hash_function="", min_token_length=3)
    await add_key(services, "key-h", quota_max=1)
    await run(services, spec(), request({"Authorization": "key-h"}))
    assert await services.store.keys("quota-") == [services.sessions.quota_key("key-h")]
    assert "key-h" not in services.sessions.quota_key("key-h")


async def test_a_broken_counter_follows_the_store_failure_policy(services: Services) -> None:
    await add_key(services, "key-b", quota_max=5)
    await services.store.set("quota-key-b", "not a number")
    _, rejected = await run(services, spec(), request({"Authorization": "key-b"}))
    assert rejected is not None and (rejected.status, rejected.message) == (
        500,
        "there was a problem proxying the request",
    )


# -- organisation limits ----------------------------------------------------------------------------


async def org_session(services: Services, org_id: str = "org1", **fields: object) -> None:
    await services.sessions.save_org(org_id, Session.from_json(dict(fields), "test"))


@pytest.fixture
def enforcing(services: Services, tmp_path: Path) -> Services:
    services.config = from_dict({"enforce_org_quotas": True}, base_dir=tmp_path, environ={})
    return services


async def test_org_limits_are_off_unless_enforced(services: Services) -> None:
    await org_session(services, is_inactive=True)
    assert (await run(services, spec(auth=None), request()))[1] is None


async def test_an_inactive_org_is_refused_without_an_event(enforcing: Services) -> None:
    await org_session(enforcing, is_inactive=True)
    ctx, rejected = await run(enforcing, spec(auth=None), request())
    assert rejected is not None and (rejected.status, rejected.message) == (
        403,
        "this organisation access has been disabled, please contact your API administrator",
    )
    assert ctx.pending == []


async def test_org_rate_limit_runs_before_auth(enforcing: Services) -> None:
    await org_session(enforcing, rate=1, per=60)
    # No credential at all: the org limit still counts and refuses first (it runs before auth).
    first = await run(enforcing, spec(auth=AuthTokenSpec()), request())
    assert first[1] is not None and first[1].status == 401
    ctx, rejected = await run(enforcing, spec(auth=AuthTokenSpec()), request())
    assert rejected is not None and (rejected.status, rejected.message) == (
        403,
        "This organisation rate limit has been exceeded, please contact your API administrator",
    )
    [(event, meta)] = ctx.pending
    assert event == "OrgRateLimitExceeded"
    fields = meta.go_fields()
    assert (fields["Message"], fields["Key"], fields["Path"]) == (
        "Organisation rate limit has been exceeded",
        "org1",
        "/a/x",
    )


async def test_org_quota_counts_every_api_of_the_org(enforcing: Services) -> None:
    await org_session(enforcing, quota_max=2, quota_renewal_rate=3600)
    apis = [spec(auth=None, api_id="one"), spec(auth=None, api_id="two", listen_path="/b/")]
    results = [await run(enforcing, apis[i % 2], request()) for i in range(3)]
    assert [r is None for _, r in results] == [True, True, False]
    ctx, rejected = results[2]
    assert rejected is not None and rejected.message == (
        "This organisation quota has been exceeded, please contact your API administrator"
    )
    [(event, meta)] = ctx.pending
    assert event == "OrgQuotaExceeded"
    assert meta.go_fields()["Message"] == "Organisation quota has been exceeded"
    assert meta.go_fields()["Key"] == "org1"
    assert await enforcing.store.get("quota-org1") == "3"


async def test_an_org_session_edit_is_seen_by_the_next_request(enforcing: Services) -> None:
    api = spec(auth=None)
    await org_session(enforcing, quota_max=0)
    built = chain.build(
        api, enforcing.config
    )  # one chain, as a route keeps it: its org session cache lives on
    await chain.run(built, RequestContext(api, request(), enforcing))
    await org_session(enforcing, is_inactive=True)
    with pytest.raises(Reject, match="disabled"):
        await chain.run(built, RequestContext(api, request(), enforcing))
    assert json.loads(await enforcing.store.get("orgkey.org1") or "{}") == {"is_inactive": True}
