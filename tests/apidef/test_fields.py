"""Field by field: defaults, fallbacks and the Tyk rules each format follows (TYK-REFERENCE 3, 7.2, 7.5)."""

from __future__ import annotations

from typing import Any

from gateway.apidef import oas
from gateway.apidef.loader import parse
from gateway.apidef.model import AuthTokenSpec, RateSpec


def classic(**extra: Any) -> dict[str, Any]:
    return {"api_id": "a", "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:8000/"}, **extra}


def oas_doc(ext: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "info": {"name": "n"},
        "server": {"listenPath": {"value": "/o/"}},
        "upstream": {"url": "http://127.0.0.1:8000/"},
    }
    for key, value in (ext or {}).items():
        base[key] = {**base.get(key, {}), **value}
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": base,
        **top,
    }


def test_classic_defaults() -> None:
    spec = parse(classic(), "a.json")
    assert (spec.name, spec.org_id, spec.domain, spec.active, spec.strip_listen_path) == (
        "",
        "",
        "",
        True,
        False,
    )
    assert spec.auth == AuthTokenSpec()  # no use_keyless: Tyk's auth token with its defaults
    assert (spec.rate_limit, spec.event_handlers, spec.ignored, spec.format) == (None, (), (), "classic")
    assert spec.source == "a.json" and spec.raw["api_id"] == "a"


def test_classic_auth_sources() -> None:
    assert parse(classic(use_keyless=True), "a.json").auth is None
    legacy = parse(classic(auth={"auth_header_name": "X-Key", "use_cookie": True}), "a.json").auth
    assert legacy == AuthTokenSpec(
        header_name="X-Key", param_name="X-Key", use_cookie=True, cookie_name="X-Key"
    )
    # auth_configs.authToken wins; the deprecated `auth` is read only when authToken is absent.
    both = classic(
        auth={"auth_header_name": "Old"},
        auth_configs={"authToken": {"auth_header_name": "New"}},
        strip_auth_data=True,
    )
    assert parse(both, "a.json").auth == AuthTokenSpec(
        header_name="New", param_name="New", cookie_name="New", strip_auth_data=True
    )


def test_classic_rate_limit_switches() -> None:
    assert parse(classic(global_rate_limit={"rate": 3, "per": 1.5}), "a.json").rate_limit == RateSpec(3, 1.5)
    assert parse(classic(global_rate_limit={"rate": 0, "per": 0}), "a.json").rate_limit is None
    assert (
        parse(classic(global_rate_limit={"rate": 3, "per": 1, "disabled": True}), "a.json").rate_limit is None
    )
    off = classic(global_rate_limit={"rate": 3, "per": 1}, disable_rate_limit=True)
    assert parse(off, "a.json").rate_limit is None


def test_classic_domain_active_and_host_header() -> None:
    doc = classic(domain="api.example.com", active=False)
    doc["proxy"]["preserve_host_header"] = True
    spec = parse(doc, "a.json")
    assert (spec.domain, spec.active, spec.preserve_host_header) == ("api.example.com", False, True)
    assert parse(classic(domain="api.example.com", domain_disabled=True), "a.json").domain == ""


def test_oas_id_is_derived_when_absent_and_stable() -> None:
    spec = parse(oas_doc(), "o.json")
    assert spec.api_id == oas.derived_id("n", "/o/") == parse(oas_doc(), "other.json").api_id
    assert spec.api_id.startswith("oas-") and len(spec.api_id) == 20
    moved = oas_doc({"server": {"listenPath": {"value": "/elsewhere/"}}})
    assert parse(moved, "o.json").api_id != spec.api_id
    named = oas_doc({"info": {"id": "given", "orgId": "org", "state": {"active": False}}})
    assert (parse(named, "o.json").api_id, parse(named, "o.json").org_id) == ("given", "org")
    assert parse(named, "o.json").active is False


def test_oas_keyless_unless_enabled_and_default_token() -> None:
    assert parse(oas_doc(), "o.json").auth is None
    on = oas_doc({"server": {"authentication": {"enabled": True, "stripAuthorizationData": True}}})
    assert parse(on, "o.json").auth == AuthTokenSpec(strip_auth_data=True)
    cookie = oas_doc(
        {"server": {"authentication": {"enabled": True, "securitySchemes": {"c": {"enabled": True}}}}},
        components={"securitySchemes": {"c": {"type": "apiKey", "in": "cookie", "name": "sid"}}},
    )
    assert parse(cookie, "o.json").auth == AuthTokenSpec(use_header=False, use_cookie=True, cookie_name="sid")


def test_oas_rate_limit_and_domain() -> None:
    doc = oas_doc(
        {
            "upstream": {"rateLimit": {"enabled": True, "rate": 5, "per": "500ms"}},
            "server": {"customDomain": {"enabled": True, "name": "a.example.com"}},
        }
    )
    spec = parse(doc, "o.json")
    assert (spec.rate_limit, spec.domain) == (RateSpec(5, 0.5), "a.example.com")
    off = oas_doc(
        {
            "server": {"customDomain": {"enabled": False, "name": "a.example.com"}},
            "upstream": {"rateLimit": {"enabled": True, "rate": 0, "per": "1s"}},
        }
    )
    assert (parse(off, "o.json").domain, parse(off, "o.json").rate_limit) == ("", None)
    skip = oas_doc(
        {
            "upstream": {"rateLimit": {"enabled": True, "rate": 5, "per": "1s"}},
            "middleware": {"global": {"skipRateLimit": True}},
        }
    )
    assert parse(skip, "o.json").rate_limit is None


def test_oas_handlers_translate_to_classic() -> None:
    handlers = [
        {
            "enabled": True,
            "trigger": "QuotaExceeded",
            "type": "webhook",
            "url": "http://h/",
            "cooldownPeriod": "",
        },
        {
            "enabled": True,
            "trigger": "QuotaExceeded",
            "type": "webhook",
            "url": "http://h/",
            "cooldownPeriod": "1.9s",
        },
        {"enabled": True, "trigger": "HostDown", "type": "carrier-pigeon", "coop": 3},
        {"enabled": False, "trigger": "HostDown", "type": "carrier-pigeon", "coop": 4},
    ]
    spec = parse(oas_doc({"server": {"eventHandlers": handlers}}), "o.json")
    empty, floored, unknown, off = spec.event_handlers
    assert (empty.meta["event_timeout"], floored.meta["event_timeout"]) == (0, 1)
    assert (empty.meta["method"], empty.meta["header_map"], empty.meta["disabled"]) == ("", {}, False)
    # A type with no translation here is kept as written, with `enabled` said the Classic way (so a new
    # kind honours it); an unknown one is reported by the handler layer when it builds the handlers.
    assert (unknown.kind, unknown.meta["coop"], unknown.meta["disabled"]) == ("carrier-pigeon", 3, False)
    assert (off.meta["coop"], off.meta["disabled"]) == (4, True)


def test_ignored_features_are_listed_once_each() -> None:
    doc = classic(
        CORS={"enable": True},
        use_keyless=True,
        version_data={
            "not_versioned": False,
            "versions": {
                "v1": {
                    "use_extended_paths": True,
                    "extended_paths": {
                        "transform": [{"path": "/a"}],
                        "url_rewrites": [],
                        "hard_timeouts": [{"path": "/b", "disabled": True}],
                    },
                    "global_headers": {"X-A": "1"},
                },
                "v2": {"paths": {"ignored": ["/x"]}},
            },
        },
    )
    assert parse(doc, "a.json").ignored == (
        "CORS",
        "version_data.versions.v1.extended_paths.transform",
        "version_data.versions.v1.global_headers",
        "version_data.versions.v2.paths.ignored",
    )
    ops = {
        "a": {"urlRewrite": {"enabled": True}, "mockResponse": {"enabled": False}},
        "b": {"urlRewrite": {"enabled": True}},
    }
    doc = oas_doc(
        {
            "middleware": {
                "global": {"cors": {"enabled": True}, "trafficLogs": {"enabled": True}},
                "operations": ops,
            },
            "upstream": {"certificatePinning": {"enabled": True}},
            "info": {"versioning": {"enabled": True}},
        }
    )
    assert parse(doc, "o.json").ignored == (
        "upstream.certificatePinning",
        "middleware.global.cors",
        "middleware.operations.*.urlRewrite",
    )
