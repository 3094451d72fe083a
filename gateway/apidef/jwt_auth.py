"""JWT auth in both formats (Classic `enable_jwt` and its `jwt_*` fields with `auth_configs.jwt`; OAS an http
bearer JWT security scheme with its x-tyk-api-gateway entry), JWKS endpoints included. Pure parsing.

What is not implemented yet is refused by name (the API is skipped), never served without it: OAS's
extra claim checks (issuers, audiences, subjects, jti, custom claims).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
from typing import Any

from gateway.apidef.common import Reader, classic_source, oas_source
from gateway.apidef.model import AuthTokenSpec, JWTSpec

METHODS = ("hmac", "rsa", "ecdsa")
_URL = re.compile(r"(?i)https?://")


def _jwks(
    r: Reader, fields: dict[str, Any], at: str, name: str, timeout: str
) -> tuple[tuple[str, float], ...]:
    """The JWKS endpoints listed (Classic jwt_jwks_uris, OAS jwksURIs): each URL with its cache time."""
    found = []
    for i, entry in enumerate(r.items(fields, name, at)):
        path = f"{at}.{name}[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(path, f"expected an object with a url, got {entry!r}")
        url = r.text(entry, "url", path)
        if not _URL.match(url):
            raise r.fail(f"{path}.url", f"expected an http:// or https:// URL, got {url!r}")
        found.append((url, r.duration(entry, timeout, path)))
        r.call(f"{path}.url", url)
    return tuple(found)


def source_bytes(source: str) -> bytes | None:
    """`jwt_source` as Tyk reads it: standard base64 (padding required); None when it is not base64."""
    try:
        return base64.b64decode(source.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def _spec(
    r: Reader, fields: dict[str, Any], at: str, source: AuthTokenSpec, names: dict[str, str]
) -> JWTSpec:
    """The JWT settings from a Classic definition or an OAS scheme (`names` maps our field to theirs)."""
    secret = r.text(fields, names["source"], at)
    decoded = source_bytes(secret) if secret else None
    jwks = _jwks(r, fields, at, names["jwks"], names["timeout"])
    # A URL as jwt_source, raw or base64 (Tyk reads both), is a JWKS endpoint.
    url = secret if _URL.match(secret) else decoded.decode("latin-1") if decoded is not None else ""
    if secret and _URL.match(url):
        jwks = ((url.strip(), 0.0), *jwks)
        r.call(f"{at}.{names['source']}", url.strip())
        secret, decoded = "", None
    method = r.text(fields, names["method"], at).lower()
    defaults = r.items(fields, names["defaults"], at)
    for i, policy in enumerate(defaults):
        if not isinstance(policy, str):
            raise r.fail(f"{at}.{names['defaults']}[{i}]", f"expected a policy id, got {policy!r}")
    skews = []
    for name in ("iat", "exp", "nbf"):
        value = r.number(fields, names[name], at)
        if value < 0:
            raise r.fail(f"{at}.{names[name]}", f"expected seconds >= 0, got {value:g}")
        skews.append(int(value))
    return JWTSpec(
        source=source,
        signing_method=method if method in METHODS else "hmac",  # Tyk: anything else means HMAC
        secret=secret,
        secret_bytes=decoded,
        jwks=jwks,
        identity_field=r.text(fields, names["identity"], at) or "sub",
        policy_field=r.text(fields, names["policy"], at),
        client_field=r.text(fields, names["client"], at),
        default_policies=tuple(defaults),
        skip_kid=r.flag(fields, names["skip_kid"], at),
        iat_skew=skews[0],
        exp_skew=skews[1],
        nbf_skew=skews[2],
    )


CLASSIC_NAMES = {
    "source": "jwt_source",
    "method": "jwt_signing_method",
    "defaults": "jwt_default_policies",
    "identity": "jwt_identity_base_field",
    "policy": "jwt_policy_field_name",
    "client": "jwt_client_base_field",
    "skip_kid": "jwt_skip_kid",
    "iat": "jwt_issued_at_validation_skew",
    "exp": "jwt_expires_at_validation_skew",
    "nbf": "jwt_not_before_validation_skew",
    "jwks": "jwt_jwks_uris",
    "timeout": "cache_timeout",
}
OAS_NAMES = {
    "source": "source",
    "method": "signingMethod",
    "defaults": "defaultPolicies",
    "identity": "identityBaseField",
    "policy": "policyFieldName",
    "client": "clientBaseField",
    "skip_kid": "skipKid",
    "iat": "issuedAtValidationSkew",
    "exp": "expiresAtValidationSkew",
    "nbf": "notBeforeValidationSkew",
    "jwks": "jwksURIs",
    "timeout": "cacheTimeout",
}


def classic(r: Reader, doc: dict[str, Any]) -> JWTSpec | None:
    if not r.flag(doc, "enable_jwt", "$") or r.flag(doc, "use_keyless", "$"):
        return None
    # Tyk reads `scopes.jwt`, or the deprecated top-level pair when `scopes` is empty.
    scopes, path = r.obj(doc, "scopes", "$"), "$.scopes.jwt"
    if scopes:
        block = r.obj(scopes, "jwt", "$.scopes")
        claim, mapping = r.text(block, "scope_claim_name", path), r.obj(block, "scope_to_policy", path)
        mapping_path = f"{path}.scope_to_policy"
    else:
        claim, mapping = (
            r.text(doc, "jwt_scope_claim_name", "$"),
            r.obj(doc, "jwt_scope_to_policy_mapping", "$"),
        )
        mapping_path = "$.jwt_scope_to_policy_mapping"
    pairs = []
    for scope, policy in mapping.items():
        if not isinstance(policy, str) or not policy:
            raise r.fail(f"{mapping_path}.{scope}", f"expected a policy id, got {policy!r}")
        pairs.append((scope, policy))
    configs = r.obj(doc, "auth_configs", "$")
    # Tyk reads the deprecated top-level `auth` for JWT when `auth_configs.jwt` is absent.
    if configs.get("jwt") is not None:
        block, path = r.obj(configs, "jwt", "$.auth_configs"), "$.auth_configs.jwt"
    else:
        block, path = r.obj(doc, "auth", "$"), "$.auth"
    source = classic_source(r, block, path, r.flag(doc, "strip_auth_data", "$"))
    return dataclasses.replace(
        _spec(r, doc, "$", source, CLASSIC_NAMES), scope_claim=claim or "scope", scope_policies=tuple(pairs)
    )


def oas(r: Reader, scheme: dict[str, Any], at: str, strip: bool) -> JWTSpec:
    """One enabled bearer JWT scheme's x-tyk entry; as in Tyk, without `header` no header is read."""
    for name, what in (
        ("allowedIssuers", "JWT issuer checks"),
        ("allowedAudiences", "JWT audience checks"),
        ("allowedSubjects", "JWT subject checks"),
        ("customClaimValidation", "JWT custom claim checks"),
    ):
        if scheme.get(name):
            raise r.unsupported(f"{at}.{name}", what, scheme[name])
    if r.flag(r.obj(scheme, "jtiValidation", at), "enabled", f"{at}.jtiValidation"):
        raise r.unsupported(f"{at}.jtiValidation.enabled", "JWT jti checks")
    scopes, spath = r.obj(scheme, "scopes", at), f"{at}.scopes"
    claims = r.items(scopes, "claims", spath)
    claim = r.text(scopes, "claimName", spath) or (claims[0] if claims and isinstance(claims[0], str) else "")
    pairs = []
    for i, entry in enumerate(r.items(scopes, "scopeToPolicyMapping", spath)):
        epath = f"{spath}.scopeToPolicyMapping[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(epath, f"expected {{scope, policyId}}, got {entry!r}")
        scope, policy = r.text(entry, "scope", epath), r.text(entry, "policyId", epath)
        if not scope or not policy:
            raise r.fail(epath, "expected a scope and a policyId, both non-empty")
        pairs.append((scope, policy))
    source = oas_source(r, scheme, at, strip)
    return dataclasses.replace(
        _spec(r, scheme, at, source, OAS_NAMES), scope_claim=claim or "scope", scope_policies=tuple(pairs)
    )
