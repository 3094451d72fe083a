"""Bad definitions: each gives a ConfigError naming the file, the JSON path and the offending value."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gateway.apidef.classic import UNSUPPORTED_AUTH
from gateway.apidef.loader import parse
from gateway.errors import ConfigError

Doc = dict[str, Any]
X = "$.x-tyk-api-gateway"


def classic_base() -> Doc:
    return {
        "api_id": "a",
        "use_keyless": True,
        "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:8000/"},
    }


def oas_base() -> Doc:
    return {
        "openapi": "3.0.3",
        "info": {"title": "a", "version": "1"},
        "paths": {},
        "components": {
            "securitySchemes": {
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "other": {"type": "apiKey", "in": "query", "name": "k"},
                "jwt": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "basic": {"type": "http", "scheme": "basic"},
                "oauth": {"type": "oauth2", "flows": {}},
            }
        },
        "x-tyk-api-gateway": {
            "info": {"id": "a", "name": "a", "state": {"active": True}},
            "server": {
                "listenPath": {"value": "/a/", "strip": True},
                "eventHandlers": [
                    {
                        "enabled": True,
                        "trigger": "RatelimitExceeded",
                        "type": "webhook",
                        "url": "http://127.0.0.1:9000/",
                        "cooldownPeriod": "1s",
                    }
                ],
            },
            "upstream": {"url": "http://127.0.0.1:8000/"},
        },
    }


def at(doc: Doc, dotted: str, value: Any) -> Doc:
    """Set (or, for the `...` sentinel, delete) a dotted path, creating objects on the way."""
    node = doc
    *parents, last = dotted.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return doc


def ext(dotted: str, value: Any) -> Callable[[Doc], Doc]:
    return lambda d: at(d, "x-tyk-api-gateway." + dotted, value)


def scheme(name: str, **extra: Any) -> Callable[[Doc], Doc]:
    def change(d: Doc) -> Doc:
        at(d, "x-tyk-api-gateway.server.authentication", {"enabled": True, **extra})
        return at(d, f"x-tyk-api-gateway.server.authentication.securitySchemes.{name}", {"enabled": True})

    return change


CLASSIC: list[tuple[str, Callable[[Doc], Doc], str, str]] = [
    ("missing listen_path", lambda d: at(d, "proxy.listen_path", ...), "$.proxy.listen_path", "null"),
    ("relative listen_path", lambda d: at(d, "proxy.listen_path", "a/"), "$.proxy.listen_path", '"a/"'),
    ("relative target_url", lambda d: at(d, "proxy.target_url", "/up"), "$.proxy.target_url", '"/up"'),
    (
        "non-http target_url",
        lambda d: at(d, "proxy.target_url", "tyk://1/"),
        "$.proxy.target_url",
        '"tyk://1/"',
    ),
    (
        "negative rate",
        lambda d: at(d, "global_rate_limit", {"rate": -1, "per": 1}),
        "$.global_rate_limit.rate",
        "-1",
    ),
    (
        "per 0",
        lambda d: at(d, "global_rate_limit", {"rate": 5, "per": 0}),
        "$.global_rate_limit.per",
        "got 0",
    ),
    (
        "rate as text",
        lambda d: at(d, "global_rate_limit", {"rate": "5", "per": 1}),
        "$.global_rate_limit.rate",
        '"5"',
    ),
    ("missing api_id", lambda d: at(d, "api_id", ...), "$.api_id", "null"),
    ("keyless as text", lambda d: at(d, "use_keyless", "yes"), "$.use_keyless", '"yes"'),
    ("proxy not an object", lambda d: at(d, "proxy", []), "$.proxy", "[]"),
    (
        "events not a list",
        lambda d: at(d, "event_handlers", {"events": {"AuthFailure": {"x": 1}}}),
        "$.event_handlers.events.AuthFailure",
        '{"x": 1}',
    ),
    (
        "handler without handler_name",
        lambda d: at(d, "event_handlers", {"events": {"AuthFailure": [{"handler_meta": {}}]}}),
        "$.event_handlers.events.AuthFailure[0].handler_name",
        "null",
    ),
    (
        "handler_name not a string",
        lambda d: at(d, "event_handlers", {"events": {"AuthFailure": [{"handler_name": 5}]}}),
        "$.event_handlers.events.AuthFailure[0].handler_name",
        "5",
    ),
    (
        "handler_meta not an object",
        lambda d: at(
            d, "event_handlers", {"events": {"AuthFailure": [{"handler_name": "x", "handler_meta": "m"}]}}
        ),
        "$.event_handlers.events.AuthFailure[0].handler_meta",
        '"m"',
    ),
    (
        "external OAuth",
        lambda d: at(d, "external_oauth", {"enabled": True}),
        "$.external_oauth.enabled",
        "OAuth",
    ),
    (
        "plugin auth_check",
        lambda d: at(d, "custom_middleware", {"driver": "python", "auth_check": {"name": "A"}}),
        "$.custom_middleware.auth_check",
        "custom plugin auth",
    ),
    (
        "IP allow list",
        lambda d: at(at(d, "enable_ip_whitelisting", True), "allowed_ips", ["10.0.0.1"]),
        "$.allowed_ips",
        "IP allow list",
    ),
    (
        "path block list",
        lambda d: at(
            d,
            "version_data",
            {
                "versions": {
                    "Default": {
                        "use_extended_paths": True,
                        "extended_paths": {"black_list": [{"path": "/admin"}]},
                    }
                }
            },
        ),
        "$.version_data.versions.Default.extended_paths.black_list",
        "block list",
    ),
    ("internal API", lambda d: at(d, "internal", True), "$.internal", "internal"),
]


def switch_on(key: str) -> Callable[[Doc], Doc]:
    return lambda d: at(d, key, True)


CLASSIC += [(f"unsupported {key}", switch_on(key), f"$.{key}", what) for key, what in UNSUPPORTED_AUTH]


def signed(**fields: Any) -> Callable[[Doc], Doc]:
    return lambda d: {**d, "use_keyless": False, "enable_signature_checking": True, **fields}


CLASSIC += [
    (
        "HMAC algorithm Tyk lacks",
        signed(hmac_allowed_algorithms=["hmac-sha256", "HMAC-SHA1"]),
        "$.hmac_allowed_algorithms[1]",
        '"HMAC-SHA1"',
    ),
    (
        "HMAC RSA algorithm",
        signed(hmac_allowed_algorithms=["rsa-sha256"]),
        "$.hmac_allowed_algorithms[0]",
        "RSA request signing",
    ),
    (
        "HMAC algorithms not a list",
        signed(hmac_allowed_algorithms="hmac-sha1"),
        "$.hmac_allowed_algorithms",
        '"hmac-sha1"',
    ),
    (
        "HMAC source",
        signed(auth_configs={"hmac": {"use_param": "yes"}}),
        "$.auth_configs.hmac.use_param",
        '"yes"',
    ),
]

OAS: list[tuple[str, Callable[[Doc], Doc], str, str]] = [
    ("missing listen path", ext("server.listenPath", ...), f"{X}.server.listenPath.value", "null"),
    ("relative upstream", ext("upstream.url", "127.0.0.1:8000"), f"{X}.upstream.url", '"127.0.0.1:8000"'),
    (
        "negative rate",
        ext("upstream.rateLimit", {"enabled": True, "rate": -1, "per": "1s"}),
        f"{X}.upstream.rateLimit.rate",
        "-1",
    ),
    (
        "fractional rate",
        ext("upstream.rateLimit", {"enabled": True, "rate": 2.5, "per": "1s"}),
        f"{X}.upstream.rateLimit.rate",
        "2.5",
    ),
    (
        "per 0s",
        ext("upstream.rateLimit", {"enabled": True, "rate": 2, "per": "0s"}),
        f"{X}.upstream.rateLimit.per",
        '"0s"',
    ),
    (
        "bad per duration",
        ext("upstream.rateLimit", {"enabled": True, "rate": 2, "per": "10x"}),
        f"{X}.upstream.rateLimit.per",
        '"10x"',
    ),
    (
        "eventHandlers not a list",
        ext("server.eventHandlers", {"a": 1}),
        f"{X}.server.eventHandlers",
        '{"a": 1}',
    ),
    (
        "handler not an object",
        ext("server.eventHandlers", ["hook"]),
        f"{X}.server.eventHandlers[0]",
        '"hook"',
    ),
    (
        "handler without trigger",
        ext("server.eventHandlers.0.trigger", ...),
        f"{X}.server.eventHandlers[0].trigger",
        "null",
    ),
    (
        "bad webhook header",
        ext("server.eventHandlers.0.headers", [{"name": "X"}]),
        f"{X}.server.eventHandlers[0].headers[0]",
        '{"name": "X"}',
    ),
    (
        "JWT scope mapping without a policy",
        lambda d: at(
            scheme("jwt")(d),
            "x-tyk-api-gateway.server.authentication.securitySchemes.jwt.scopes",
            {"scopeToPolicyMapping": [{"scope": "read"}]},
        ),
        f"{X}.server.authentication.securitySchemes.jwt.scopes.scopeToPolicyMapping[0]",
        "policyId",
    ),
    ("OAuth scheme", scheme("oauth"), f"{X}.server.authentication.securitySchemes.oauth.enabled", "OAuth"),
    (
        "OAuth while auth is off",
        lambda d: at(scheme("oauth")(d), "x-tyk-api-gateway.server.authentication.enabled", False),
        "securitySchemes.oauth.enabled",
        "OAuth",
    ),
    (
        "undeclared scheme",
        scheme("nope"),
        f"{X}.server.authentication.securitySchemes.nope",
        "$.components.securitySchemes.nope",
    ),
    (
        "HMAC algorithm Tyk lacks",
        ext(
            "server.authentication",
            {"enabled": True, "hmac": {"enabled": True, "allowedAlgorithms": ["md5"]}},
        ),
        f"{X}.server.authentication.hmac.allowedAlgorithms[0]",
        '"md5"',
    ),
    (
        "HMAC clock skew as text",
        ext("server.authentication", {"enabled": True, "hmac": {"enabled": True, "allowedClockSkew": "5s"}}),
        f"{X}.server.authentication.hmac.allowedClockSkew",
        '"5s"',
    ),
    (
        "OIDC",
        ext("server.authentication", {"enabled": True, "oidc": {"enabled": True}}),
        f"{X}.server.authentication.oidc.enabled",
        "OpenID",
    ),
    (
        "custom plugin auth",
        ext("server.authentication", {"enabled": True, "custom": {"enabled": True}}),
        f"{X}.server.authentication.custom.enabled",
        "plugin",
    ),
    (
        "mutual TLS allow list entry",
        ext("server.clientCertificates", {"enabled": True, "allowlist": [5]}),
        f"{X}.server.clientCertificates.allowlist[0]",
        "5",
    ),
    (
        "upstream certificate mapping",
        ext("upstream.mutualTLS", {"enabled": True, "domainToCertificateMapping": [{"domain": "a"}]}),
        f"{X}.upstream.mutualTLS.domainToCertificateMapping[0]",
        '"domain"',
    ),
    (
        "two apiKey schemes",
        lambda d: at(
            scheme("key")(d),
            "x-tyk-api-gateway.server.authentication.securitySchemes.other",
            {"enabled": True},
        ),
        "securitySchemes.other",
        "'key'",
    ),
    (
        "apiKey in path",
        lambda d: at(scheme("key")(d), "components.securitySchemes.key.in", "path"),
        "$.components.securitySchemes.key.in",
        '"path"',
    ),
    (
        "operation allow list",
        ext("middleware", {"operations": {"getThing": {"allow": {"enabled": True}}}}),
        f"{X}.middleware.operations.getThing.allow",
        "allow list",
    ),
    ("no Tyk extension", lambda d: at(d, "x-tyk-api-gateway", ...), "$.x-tyk-api-gateway", "missing"),
    ("no openapi version", lambda d: at(d, "openapi", ...), "$.openapi", "missing"),
]


def reject(doc: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(doc, "bad.json")
    error = info.value
    assert error.where == "bad.json" and str(error).startswith("bad.json: ")
    return error


@pytest.mark.parametrize(("case", "change", "path", "value"), CLASSIC, ids=[c[0] for c in CLASSIC])
def test_classic_errors_name_the_path_and_the_value(
    case: str, change: Callable[[Doc], Doc], path: str, value: str
) -> None:
    parse(classic_base(), "good.json")  # the base is valid: the change alone is the problem
    reason = reject(change(classic_base())).reason
    assert path in reason and value in reason, reason


@pytest.mark.parametrize(("case", "change", "path", "value"), OAS, ids=[c[0] for c in OAS])
def test_oas_errors_name_the_path_and_the_value(
    case: str, change: Callable[[Doc], Doc], path: str, value: str
) -> None:
    parse(oas_base(), "good.json")
    reason = reject(change(oas_base())).reason
    assert path in reason and value in reason, reason


@pytest.mark.parametrize("raw", [[], "api", 3, None])
def test_a_definition_must_be_an_object(raw: Any) -> None:
    assert reject(raw).reason.startswith("$: expected a JSON object")


def test_switched_off_features_are_not_errors() -> None:
    """Tyk files carry many false/empty fields: only a field that is on may skip an API."""
    doc = classic_base()
    for key, _ in UNSUPPORTED_AUTH:
        doc[key] = False
    doc.update(
        {
            "external_oauth": {"enabled": False},
            "custom_middleware": {"driver": "", "auth_check": {"name": ""}},
            "enable_ip_whitelisting": False,
            "allowed_ips": ["10.0.0.1"],
            "global_rate_limit": {"rate": 0, "per": 0},
            "event_handlers": {"events": {}},
        }
    )
    assert parse(doc, "ok.json").api_id == "a"
    oas = oas_base()
    at(
        oas,
        "x-tyk-api-gateway.server.authentication",
        {"enabled": False, "hmac": {"enabled": False}, "securitySchemes": {"jwt": {"enabled": False}}},
    )
    at(oas, "x-tyk-api-gateway.upstream.rateLimit", {"enabled": False, "rate": 2, "per": ""})
    assert parse(copy.deepcopy(oas), "ok.json").rate_limit is None


def test_a_bad_cooldown_is_left_to_its_handler_and_the_api_loads() -> None:
    """One handler's bad cooldownPeriod must not take the API down: the handler is refused when built."""
    doc = ext("server.eventHandlers.0.cooldownPeriod", "10x")(oas_base())
    spec = parse(doc, "a.json")
    assert spec.event_handlers[0].meta["event_timeout"] == "10x"
