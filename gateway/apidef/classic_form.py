"""The Classic form of a loaded API, as Tyk's `GET /tyk/apis` shows it: a Classic definition as written,
and for an OAS API the Classic object Tyk stores beside it (`is_oas: true`, no OpenAPI content), rendered
from the parsed APISpec so that it says what the gateway serves. Also the two facts the versions
listing reads in either format (`internal`, `expiration`). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import dig
from gateway.apidef.model import APISpec, AuthTokenSpec, JWTSpec

# OAS handler types by their Classic handler names (types without one keep their OAS name).
HANDLER_NAMES = {"webhook": "eh_web_hook_handler", "log": "eh_log_handler", "custom": "eh_dynamic_handler"}


def classic_form(spec: APISpec) -> dict[str, Any]:
    if spec.format != "oas":
        return dict(spec.raw)
    ext = spec.raw.get("x-tyk-api-gateway", {})
    form: dict[str, Any] = {
        "api_id": spec.api_id,
        "name": spec.name,
        "org_id": spec.org_id,
        "active": spec.active,
        "internal": internal(spec),
        "expiration": expiration(spec),
        "is_oas": True,
        "use_keyless": spec.keyless,
        "use_standard_auth": spec.auth is not None,
        "use_basic_auth": spec.basic_auth is not None,
        "enable_jwt": spec.jwt is not None,
        "enable_signature_checking": spec.hmac is not None,
        "strip_auth_data": any(s.strip_auth_data for s in _sources(spec)),
        "base_identity_provided_by": spec.identity,
        "auth_configs": _auth_configs(spec),
        "proxy": {
            "listen_path": spec.listen_path,
            "target_url": spec.target_url,
            "strip_listen_path": spec.strip_listen_path,
            "preserve_host_header": spec.preserve_host_header,
        },
        "domain": spec.domain,
        "domain_disabled": not spec.domain,
        "global_rate_limit": (
            {"disabled": False, "rate": spec.rate_limit.rate, "per": spec.rate_limit.per}
            if spec.rate_limit
            else {"disabled": True, "rate": 0, "per": 0}
        ),
        "definition": _version_definition(spec),
        "version_data": {
            "not_versioned": True,
            "default_version": "",
            "versions": {"": {"name": "", "use_extended_paths": True}},
        },
        "event_handlers": {"events": _events(spec)},
        "do_not_track": dig(ext, "middleware.global.trafficLogs.enabled") is not True,
        "enable_context_vars": dig(ext, "middleware.global.contextVariables.enabled") is True,
    }
    if spec.basic_auth is not None:
        basic = spec.basic_auth
        form["basic_auth"] = {"disable_caching": basic.disable_caching, "cache_ttl": basic.cache_ttl}
        if basic.body_user:
            form["basic_auth"].update(
                extract_from_body=True,
                body_user_regexp=basic.body_user,
                body_password_regexp=basic.body_password,
            )
    if spec.jwt is not None:
        form.update(_jwt(spec.jwt))
    if spec.hmac is not None:
        form["hmac_allowed_algorithms"] = list(spec.hmac.allowed_algorithms)
        form["hmac_allowed_clock_skew"] = spec.hmac.clock_skew_ms
    return form


def internal(spec: APISpec) -> bool:
    if spec.format == "oas":
        return dig(spec.raw, "x-tyk-api-gateway.info.state.internal") is True
    return spec.raw.get("internal") is True


def expiration(spec: APISpec) -> str:
    where = "x-tyk-api-gateway.info.expiration" if spec.format == "oas" else "expiration"
    value = dig(spec.raw, where)
    return value if isinstance(value, str) else ""


def _sources(spec: APISpec) -> list[AuthTokenSpec]:
    sources = [spec.auth] if spec.auth is not None else []
    return sources + [m.source for m in (spec.basic_auth, spec.hmac, spec.jwt) if m is not None]


def _source(source: AuthTokenSpec) -> dict[str, Any]:
    return {
        "auth_header_name": source.header_name,
        "disable_header": not source.use_header,
        "use_param": source.use_param,
        "param_name": source.param_name,
        "use_cookie": source.use_cookie,
        "cookie_name": source.cookie_name,
    }


def _auth_configs(spec: APISpec) -> dict[str, Any]:
    configs: dict[str, Any] = {}
    if spec.auth is not None:
        configs["authToken"] = _source(spec.auth)
    if spec.basic_auth is not None:
        configs["basic"] = _source(spec.basic_auth.source)
    if spec.hmac is not None:
        configs["hmac"] = _source(spec.hmac.source)
    if spec.jwt is not None:
        configs["jwt"] = _source(spec.jwt.source)
    return configs


def _jwt(jwt: JWTSpec) -> dict[str, Any]:
    return {
        "jwt_signing_method": jwt.signing_method,
        "jwt_source": jwt.secret,
        "jwt_jwks_uris": [{"url": url, "cache_timeout": int(ttl)} for url, ttl in jwt.jwks],
        "jwt_identity_base_field": jwt.identity_field,
        "jwt_policy_field_name": jwt.policy_field,
        "jwt_client_base_field": jwt.client_field,
        "jwt_default_policies": list(jwt.default_policies),
        "jwt_skip_kid": jwt.skip_kid,
        "jwt_issued_at_validation_skew": jwt.iat_skew,
        "jwt_expires_at_validation_skew": jwt.exp_skew,
        "jwt_not_before_validation_skew": jwt.nbf_skew,
        "scopes": {"jwt": {"scope_claim_name": jwt.scope_claim, "scope_to_policy": dict(jwt.scope_policies)}},
    }


def _version_definition(spec: APISpec) -> dict[str, Any]:
    v = spec.versioning
    return {
        "enabled": v.enabled,
        "name": v.name,
        "default": v.default,
        "location": v.location,
        "key": v.key,
        "strip_versioning_data": v.strip,
        "url_versioning_pattern": v.url_pattern,
        "fallback_to_default": v.fallback_to_default,
        "versions": dict(v.children) or None,  # Tyk: null when there are no child versions
    }


def _events(spec: APISpec) -> dict[str, list[dict[str, Any]]]:
    events: dict[str, list[dict[str, Any]]] = {}
    for handler in spec.event_handlers:
        name = HANDLER_NAMES.get(handler.kind, handler.kind)
        events.setdefault(handler.event, []).append(
            {"handler_name": name, "handler_meta": dict(handler.meta)}
        )
    return events
