"""Basic auth in both formats: where the credential is read, the bcrypt cache settings, Tyk's rule for
when the auth token guards the API too (use_standard_auth, or no other method), the identity setting,
and credentials from the body refused by name rather than Basic auth silently turned off."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gateway.apidef.loader import parse
from gateway.apidef.model import AuthTokenSpec, BasicAuthSpec
from gateway.errors import ConfigError
from tests.apidef.test_fields import classic, oas_doc


def basic_oas(scheme: dict[str, Any], *, token: bool = False, **auth: Any) -> dict[str, Any]:
    schemes: dict[str, Any] = {"basic": {"enabled": True, **scheme}}
    components: dict[str, Any] = {"basic": {"type": "http", "scheme": "basic"}}
    if token:
        schemes["key"] = {"enabled": True}
        components["key"] = {"type": "apiKey", "in": "header", "name": "X-Key"}
    authentication = {"enabled": True, "securitySchemes": schemes, **auth}
    return oas_doc({"server": {"authentication": authentication}}, components={"securitySchemes": components})


def test_classic_basic_auth_alone_and_with_the_auth_token() -> None:
    alone = parse(classic(use_basic_auth=True, name="Shop", basic_auth={"cache_ttl": 5}), "c.json")
    assert alone.basic_auth == BasicAuthSpec(cache_ttl=5) and alone.auth is None and not alone.keyless
    both = parse(
        classic(
            use_basic_auth=True,
            use_standard_auth=True,
            base_identity_provided_by="auth_token",
            auth_configs={
                "basic": {"auth_header_name": "X-Basic"},
                "authToken": {"auth_header_name": "X-Key"},
            },
        ),
        "c.json",
    )
    assert both.basic_auth is not None and both.basic_auth.source.header_name == "X-Basic"
    assert both.auth is not None and both.auth.header_name == "X-Key" and both.identity == "auth_token"
    keyless = parse(classic(use_basic_auth=True, use_keyless=True), "c.json")
    assert keyless.basic_auth is None and keyless.keyless  # Tyk: use_keyless wins over every method


def test_oas_basic_scheme() -> None:
    spec = parse(basic_oas({"header": {"enabled": True}, "cacheTTL": 30, "disableCaching": True}), "o.json")
    assert (
        spec.basic_auth == BasicAuthSpec(AuthTokenSpec(), disable_caching=True, cache_ttl=30)
        and spec.auth is None
    )
    # As in Tyk, a source is read only when its block says so: no header block, no header.
    quiet = parse(basic_oas({"query": {"enabled": True, "name": "cred"}}), "o.json").basic_auth
    assert quiet is not None and not quiet.source.use_header and quiet.source.param_name == "cred"
    both = parse(
        basic_oas({"header": {"enabled": True}}, token=True, baseIdentityProvider="basic_auth_user"), "o"
    )
    assert both.basic_auth is not None and both.auth is not None and both.identity == "basic_auth_user"


FROM_BODY = {
    "extract_from_body": True,
    "body_user_regexp": "<U>(.*)</U>",
    "body_password_regexp": "<P>(.*)</P>",
}


def test_credentials_from_the_body_in_both_formats() -> None:
    spec = parse(classic(use_basic_auth=True, basic_auth=FROM_BODY), "c.json").basic_auth
    assert spec is not None and (spec.body_user, spec.body_password) == ("<U>(.*)</U>", "<P>(.*)</P>")
    body = {"enabled": True, "userRegexp": "u=(\\w+)", "passwordRegexp": "p=(\\w+)"}
    oas_spec = parse(basic_oas({"extractCredentialsFromBody": body}), "o.json").basic_auth
    assert oas_spec is not None and oas_spec.body_user == "u=(\\w+)"
    off = parse(
        classic(use_basic_auth=True, basic_auth={**FROM_BODY, "extract_from_body": False}), "c"
    ).basic_auth
    assert off is not None and off.body_user == ""


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (
            classic(use_basic_auth=True, basic_auth={"extract_from_body": True}),
            "$.basic_auth.body_user_regexp: expected a regular expression with a group",
        ),
        (
            classic(use_basic_auth=True, basic_auth={**FROM_BODY, "body_password_regexp": "<P>(.*"}),
            "$.basic_auth.body_password_regexp: expected a regular expression (missing ), unterminated",
        ),
        (
            basic_oas({"extractCredentialsFromBody": {"enabled": True, "userRegexp": "u(.*)"}}),
            "$.x-tyk-api-gateway.server.authentication.securitySchemes.basic.extractCredentialsFromBody"
            ".passwordRegexp: expected a regular expression with a group",
        ),
        (classic(use_basic_auth=True, base_identity_provided_by="nobody"), "$.base_identity_provided_by"),
    ],
)
def test_refused_by_name(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(path)):
        parse(raw, "x.json")
