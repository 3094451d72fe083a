"""Basic auth in both formats (Classic `use_basic_auth`, `basic_auth`, `auth_configs.basic`; OAS an http
basic security scheme with its x-tyk-api-gateway entry) and which session the key steps act on when
several methods are on (`base_identity_provided_by`). Pure parsing, no I/O.

Credentials read from the request body (`extract_from_body`) need both regular expressions, valid and
with a group: Tyk silently turns Basic auth off when they are not, which would serve the API under
another method; here the API is skipped, naming the field.
"""

from __future__ import annotations

import re
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
    configs = r.obj(doc, "auth_configs", "$")
    source = r.obj(configs, "basic", "$.auth_configs")
    from_body = r.flag(block, "extract_from_body", path)
    return BasicAuthSpec(
        source=classic_source(r, source, "$.auth_configs.basic", r.flag(doc, "strip_auth_data", "$")),
        disable_caching=r.flag(block, "disable_caching", path),
        cache_ttl=r.number(block, "cache_ttl", path) or DEFAULT_CACHE_TTL,
        body_user=_pattern(r, block, "body_user_regexp", path) if from_body else "",
        body_password=_pattern(r, block, "body_password_regexp", path) if from_body else "",
    )


def _pattern(r: Reader, block: dict[str, Any], name: str, at: str) -> str:
    """A body expression: required, valid, with a group for the value (Tyk's BIV errors name a missing
    group per request; a pattern that can never give one is refused here instead)."""
    text = r.text(block, name, at)
    try:
        groups = re.compile(text).groups if text else 0
    except re.error as exc:
        raise r.fail(f"{at}.{name}", f"expected a regular expression ({exc}), got {text!r}") from None
    if not groups:
        raise r.fail(
            f"{at}.{name}", f"expected a regular expression with a group for the value, got {text!r}"
        )
    return text


def oas(r: Reader, scheme: dict[str, Any], at: str, strip: bool) -> BasicAuthSpec:
    """One enabled http basic scheme's x-tyk entry. As in Tyk, a source is on only when its block says
    so: without `header` the Authorization header is not read."""
    body, bpath = r.obj(scheme, "extractCredentialsFromBody", at), f"{at}.extractCredentialsFromBody"
    from_body = r.flag(body, "enabled", bpath)
    return BasicAuthSpec(
        source=oas_source(r, scheme, at, strip),
        disable_caching=r.flag(scheme, "disableCaching", at),
        cache_ttl=r.number(scheme, "cacheTTL", at) or DEFAULT_CACHE_TTL,
        body_user=_pattern(r, body, "userRegexp", bpath) if from_body else "",
        body_password=_pattern(r, body, "passwordRegexp", bpath) if from_body else "",
    )
