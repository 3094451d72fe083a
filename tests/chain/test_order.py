"""ORDER is Tyk's middleware order (TYK-REFERENCE 7.1) and each API gets only what it enables."""

from __future__ import annotations

from gateway import chain
from gateway.apidef.model import APISpec, AuthTokenSpec, BreakerSpec, RateSpec, UpstreamOAuthSpec, VersionSpec
from gateway.config.model import Config

ENFORCING = Config(enforce_org_quotas=True)


def spec(**kw: object) -> APISpec:
    base: dict[str, object] = {
        "api_id": "a",
        "name": "a",
        "org_id": "o",
        "listen_path": "/a/",
        "target_url": "http://127.0.0.1:1",
    }
    return APISpec(**{**base, **kw})  # type: ignore[arg-type]


def test_order_is_tyks() -> None:
    assert [m.name for m in chain.ORDER] == [
        "version_check",
        "hooks_pre",  # Tyk: pre plugins after CORS, before the IP lists and mutual TLS
        "cert_check",
        "org_limits",  # Tyk's OrganizationMonitor runs before the auth middlewares
        "basic_auth",  # then the auth methods in Tyk's order, the auth token last
        "hmac_auth",
        "jwt_auth",
        "auth",
        "hooks_post_key_auth",
        "key_expiry",
        "access_rights",
        "key_rate_limit",
        "quota",  # RateLimitAndQuotaCheck: the rate limit, then the quota
        "api_rate_limit",
        "upstream_oauth",
        "hooks_post",
        "circuit_breaker",
    ]


def test_a_keyless_api_without_limits_has_an_empty_chain() -> None:
    assert chain.build(spec(org_id="")) == ()


def test_an_api_with_an_org_gets_the_org_limits_only_when_they_are_enforced() -> None:
    assert [m.name for m in chain.build(spec(), ENFORCING)] == ["org_limits"]
    assert chain.build(spec()) == ()


def test_enabled_middleware_per_api() -> None:
    keyless_limited = chain.build(spec(rate_limit=RateSpec(2, 10)), ENFORCING)
    assert [m.name for m in keyless_limited] == ["org_limits", "api_rate_limit"]
    keyed = chain.build(spec(org_id="", auth=AuthTokenSpec()))
    assert [m.name for m in keyed] == ["auth", "key_expiry", "access_rights", "key_rate_limit", "quota"]


def test_only_breakers_want_the_proxy_outcome() -> None:
    assert chain.responders(chain.build(spec(auth=AuthTokenSpec(), rate_limit=RateSpec(2, 10)))) == ()
    guarded = chain.build(
        spec(org_id="", rate_limit=RateSpec(2, 10), breakers=(BreakerSpec("/x", "GET", 0.5, 1, 1.0),))
    )
    assert [m.name for m in guarded] == ["api_rate_limit", "circuit_breaker"]
    assert chain.responders(guarded) == (guarded[1],)


def test_upstream_oauth_runs_last_after_the_api_rate_limit() -> None:
    oauth = UpstreamOAuthSpec(grant="clientCredentials", client_id="c", token_url="http://127.0.0.1:1/t")
    built = chain.build(
        spec(org_id="", auth=AuthTokenSpec(), rate_limit=RateSpec(2, 10), upstream_oauth=oauth)
    )
    assert [m.name for m in built][-2:] == ["api_rate_limit", "upstream_oauth"]
    assert [m.name for m in chain.build(spec(org_id="", upstream_oauth=oauth))] == ["upstream_oauth"]


def test_version_check_runs_only_where_it_can_decide_something() -> None:
    versioned = chain.build(
        spec(org_id="", versioning=VersionSpec(not_versioned=False), auth=AuthTokenSpec())
    )
    assert [m.name for m in versioned][:2] == ["version_check", "auth"]
    assert [m.name for m in chain.build(spec(org_id="", versioning=VersionSpec(api_expires=1.0)))] == [
        "version_check"
    ]
    expiring = VersionSpec(versions={"Default": 1.0})
    assert [m.name for m in chain.build(spec(org_id="", versioning=expiring))] == ["version_check"]
    assert chain.build(spec(org_id="", versioning=VersionSpec(versions={"Default": None}))) == ()
