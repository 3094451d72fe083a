"""JWT settings in both formats: Tyk's field names, its reading of jwt_source (base64; a JWKS URL refused
for now), the signing method (anything unknown means HMAC), and what is refused by name."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from gateway.apidef.loader import parse
from gateway.errors import ConfigError
from tests.apidef.test_fields import classic, oas_doc


def test_classic_fields_and_tyks_reading_of_them() -> None:
    spec = parse(
        classic(
            enable_jwt=True,
            jwt_signing_method="bla",
            jwt_source=base64.b64encode(b"secret").decode(),
            jwt_identity_base_field="user_id",
            jwt_policy_field_name="pol",
            jwt_default_policies=["p1", "p2"],
            jwt_expires_at_validation_skew=3,
        ),
        "c.json",
    ).jwt
    assert spec is not None and spec.signing_method == "hmac" and spec.secret_bytes == b"secret"
    assert (spec.identity_field, spec.policy_field, spec.default_policies, spec.exp_skew) == (
        "user_id",
        "pol",
        ("p1", "p2"),
        3,
    )
    # Tyk's corpus has a jwt_source that is not base64: the API loads and refuses every token.
    odd = parse(classic(enable_jwt=True, jwt_source="header"), "c.json")
    assert odd.jwt is not None and odd.jwt.secret_bytes is None and odd.auth is None


def test_jwks_endpoints_raw_or_base64_and_listed() -> None:
    raw = parse(classic(enable_jwt=True, jwt_source="https://idp.example/jwks"), "c.json").jwt
    encoded = base64.b64encode(b"https://idp.example/jwks").decode()
    wrapped = parse(classic(enable_jwt=True, jwt_source=encoded), "c.json").jwt
    assert (
        raw is not None
        and wrapped is not None
        and raw.jwks == wrapped.jwks == (("https://idp.example/jwks", 0.0),)
    )
    assert raw.secret == "" and raw.secret_bytes is None
    listed = parse(
        classic(enable_jwt=True, jwt_jwks_uris=[{"url": "https://a/jwks", "cache_timeout": "5m"}]), "c"
    )
    assert listed.jwt is not None and listed.jwt.jwks == (("https://a/jwks", 300.0),)


def test_scope_to_policy_mapping_in_both_places_tyk_reads_it() -> None:
    current = parse(
        classic(
            enable_jwt=True, scopes={"jwt": {"scope_claim_name": "perms", "scope_to_policy": {"r": "p"}}}
        ),
        "c",
    )
    legacy = parse(classic(enable_jwt=True, jwt_scope_to_policy_mapping={"r": "p"}), "c")
    assert current.jwt is not None and (current.jwt.scope_claim, current.jwt.scope_policies) == (
        "perms",
        (("r", "p"),),
    )
    assert legacy.jwt is not None and (legacy.jwt.scope_claim, legacy.jwt.scope_policies) == (
        "scope",
        (("r", "p"),),
    )


def test_oas_bearer_jwt_scheme() -> None:
    scheme = {
        "enabled": True,
        "source": base64.b64encode(b"k").decode(),
        "signingMethod": "rsa",
        "header": {"enabled": True},
    }
    doc = oas_doc(
        {"server": {"authentication": {"enabled": True, "securitySchemes": {"j": scheme}}}},
        components={"securitySchemes": {"j": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    )
    spec = parse(doc, "o.json")
    assert spec.jwt is not None and spec.jwt.signing_method == "rsa" and spec.auth is None


def test_the_client_base_field_in_both_formats() -> None:
    spec = parse(classic(enable_jwt=True, jwt_client_base_field="cid"), "c.json")
    assert spec.jwt is not None and spec.jwt.client_field == "cid"
    scheme = {"enabled": True, "source": base64.b64encode(b"k").decode(), "clientBaseField": "azp"}
    doc = oas_doc(
        {"server": {"authentication": {"enabled": True, "securitySchemes": {"j": scheme}}}},
        components={"securitySchemes": {"j": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    )
    oas_spec = parse(doc, "o.json")
    assert oas_spec.jwt is not None and oas_spec.jwt.client_field == "azp"


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"jwt_jwks_uris": [{"url": "ftp://idp/jwks"}]}, r"$.jwt_jwks_uris[0].url"),
        (
            {"jwt_jwks_uris": [{"url": "https://idp/jwks", "cache_timeout": "soon"}]},
            "$.jwt_jwks_uris[0].cache_timeout",
        ),
        ({"scopes": {"jwt": {"scope_to_policy": {"read": 5}}}}, "$.scopes.jwt.scope_to_policy.read"),
        ({"jwt_issued_at_validation_skew": -1}, "$.jwt_issued_at_validation_skew"),
    ],
)
def test_refused_by_name(fields: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(path.removeprefix("r"))):
        parse(classic(enable_jwt=True, **fields), "c.json")
