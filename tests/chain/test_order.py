"""ORDER is Tyk's middleware order (TYK-REFERENCE 7.1) and each API gets only what it enables."""

from __future__ import annotations

from gateway import chain
from gateway.apidef.model import APISpec, AuthTokenSpec, RateSpec, VersionSpec


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
        "auth",
        "key_expiry",
        "access_rights",
        "key_rate_limit",
        "api_rate_limit",
    ]


def test_a_keyless_api_without_limits_has_an_empty_chain() -> None:
    assert chain.build(spec()) == ()


def test_enabled_middleware_per_api() -> None:
    keyless_limited = chain.build(spec(rate_limit=RateSpec(2, 10)))
    assert [m.name for m in keyless_limited] == ["api_rate_limit"]
    keyed = chain.build(spec(auth=AuthTokenSpec()))
    assert [m.name for m in keyed] == ["auth", "key_expiry", "access_rights", "key_rate_limit"]


def test_version_check_runs_only_where_it_can_decide_something() -> None:
    versioned = chain.build(spec(versioning=VersionSpec(not_versioned=False), auth=AuthTokenSpec()))
    assert [m.name for m in versioned][:2] == ["version_check", "auth"]
    assert [m.name for m in chain.build(spec(versioning=VersionSpec(api_expires=1.0)))] == ["version_check"]
    expiring = VersionSpec(versions={"Default": 1.0})
    assert [m.name for m in chain.build(spec(versioning=expiring))] == ["version_check"]
    assert chain.build(spec(versioning=VersionSpec(versions={"Default": None}))) == ()
