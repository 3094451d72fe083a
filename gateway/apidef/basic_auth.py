"""Basic auth in both formats (Classic `use_basic_auth`, `basic_auth`, `auth_configs.basic`; OAS an http
basic security scheme with its x-tyk-api-gateway entry) and which session the key steps act on when
several methods are on (`base_identity_provided_by`). Pure parsing, no I/O.

Credentials read from the request body (`extract_from_body`) are refused by name: Tyk silently turns
Basic auth off when its expressions are bad, which would serve the API under another method.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, classic_source, oas_source
from gateway.apidef.model import BasicAuthSpec

# Tyk's values of base_identity_provided_by; "" lets the last method in the chain decide.
IDENTITIES = (
    "",
    "auth_token",
    "basic_auth_user",
    "hmac_key",
    "jwt_claim",
    "oidc_user",
    "oauth_key",
    "custom_auth",
)
DEFAULT_CACHE_TTL = 60.0  # Tyk's defaultBasicAuthTTL
FROM_BODY = "Basic auth credentials read from the body"


def identity(r: Reader, value: Any, path: str) -> str:
    if value is None or value == "":
        return ""
    if value not in IDENTITIES:
        raise r.fail(path, f"expected one of {', '.join(repr(i) for i in IDENTITIES[1:])}, got {value!r}")
    return str(value)


def classic(r: Reader, doc: dict[str, Any]) -> BasicAuthSpec | None:
    if not r.flag(doc, "use_basic_auth", "$") or r.flag(doc, "use_keyless", "$"):
        return None
    path = "$.basic_auth"
    block = r.obj(doc, "basic_auth", "$")
    if r.flag(block, "extract_from_body", path):
        raise r.unsupported(f"{path}.extract_from_body", FROM_BODY)
    configs = r.obj(doc, "auth_configs", "$")
    source = r.obj(configs, "basic", "$.auth_configs")
    return BasicAuthSpec(
        source=classic_source(r, source, "$.auth_configs.basic", r.flag(doc, "strip_auth_data", "$")),
        disable_caching=r.flag(block, "disable_caching", path),
        cache_ttl=r.number(block, "cache_ttl", path) or DEFAULT_CACHE_TTL,
    )


def oas(r: Reader, scheme: dict[str, Any], at: str, strip: bool) -> BasicAuthSpec:
    """One enabled http basic scheme's x-tyk entry. As in Tyk, a source is on only when its block says
    so: without `header` the Authorization header is not read."""
    body = r.obj(scheme, "extractCredentialsFromBody", at)
    if r.flag(body, "enabled", f"{at}.extractCredentialsFromBody"):
        raise r.unsupported(f"{at}.extractCredentialsFromBody.enabled", FROM_BODY)
    return BasicAuthSpec(
        source=oas_source(r, scheme, at, strip),
        disable_caching=r.flag(scheme, "disableCaching", at),
        cache_ttl=r.number(scheme, "cacheTTL", at) or DEFAULT_CACHE_TTL,
    )
