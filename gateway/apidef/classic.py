"""Tyk Classic API definitions (`api_id`, `proxy`, `use_keyless`, `event_handlers`, ...) into an APISpec.

Pure: dict in, APISpec out, no I/O. An auth method (or access restriction) this gateway lacks raises
ConfigError so the API is skipped, never served open; other missing features land in `spec.ignored`.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef import (
    basic_auth,
    breakers,
    certs,
    features,
    hmac_auth,
    hooks,
    jwt_auth,
    upstream_auth,
    uptime,
    versions,
)
from gateway.apidef.common import Reader, classic_source, show
from gateway.apidef.model import APISpec, AuthTokenSpec, HandlerSpec, RateSpec

UNSUPPORTED_AUTH = (
    ("use_oauth2", "OAuth 2.0"),
    ("use_openid", "OpenID Connect"),
    ("enable_coprocess_auth", "custom plugin auth"),
    ("use_go_plugin_auth", "Go plugin auth"),
)


def parse(raw: Any, where: str) -> APISpec:
    """One Classic definition; ConfigError (naming `where`, the JSON path and the value) if invalid."""
    r = Reader(where)
    doc = r.root(raw)
    api_id = r.text(doc, "api_id", "$")
    if not api_id:
        raise r.fail("$.api_id", f"required: a non-empty string, got {show(doc.get('api_id'))}")
    proxy = r.obj(doc, "proxy", "$")
    domain = "" if r.flag(doc, "domain_disabled", "$") else r.text(doc, "domain", "$")
    return APISpec(
        api_id=api_id,
        name=r.text(doc, "name", "$"),
        org_id=r.text(doc, "org_id", "$"),
        listen_path=r.listen_path(proxy.get("listen_path"), "$.proxy.listen_path"),
        target_url=r.target_url(proxy.get("target_url"), "$.proxy.target_url"),
        strip_listen_path=r.flag(proxy, "strip_listen_path", "$.proxy"),
        domain=domain.strip(),
        active=r.flag(doc, "active", "$", default=True),
        auth=_auth(r, doc),
        basic_auth=basic_auth.classic(r, doc),
        hmac=hmac_auth.classic(r, doc),
        jwt=jwt_auth.classic(r, doc),
        identity=basic_auth.identity(r, doc.get("base_identity_provided_by"), "$.base_identity_provided_by"),
        rate_limit=_rate_limit(r, doc),
        event_handlers=_handlers(r, doc),
        hooks=hooks.classic(r, doc),
        preserve_host_header=r.flag(proxy, "preserve_host_header", "$.proxy"),
        uptime=uptime.classic(r, doc, proxy),
        breakers=breakers.classic(r, doc),
        upstream_oauth=upstream_auth.classic(r, doc),
        certs=certs.classic(r, doc),
        source=where,
        format="classic",
        versioning=versions.classic(r, doc),
        ignored=features.classic(r, doc),
        raw=doc,
        calls=tuple(r.calls),  # last: the reads above note them
    )


def _auth(r: Reader, doc: dict[str, Any]) -> AuthTokenSpec | None:
    # Checked even when use_keyless is set: such a file contradicts itself, and guessing "open" is unsafe.
    for key, what in UNSUPPORTED_AUTH:
        if r.flag(doc, key, "$"):
            raise r.unsupported(f"$.{key}", what)
    if r.flag(r.obj(doc, "external_oauth", "$"), "enabled", "$.external_oauth"):
        raise r.unsupported("$.external_oauth.enabled", "external OAuth")
    custom = r.obj(doc, "custom_middleware", "$")
    check = r.obj(custom, "auth_check", "$.custom_middleware")
    if r.text(custom, "driver", "$.custom_middleware") and r.text(
        check, "name", "$.custom_middleware.auth_check"
    ):
        raise r.unsupported("$.custom_middleware.auth_check", "custom plugin auth", check)
    if r.flag(doc, "use_keyless", "$"):
        return None
    # Tyk's rule: the auth token is asked for when use_standard_auth says so, or when no other method is.
    other = any(r.flag(doc, k, "$") for k in ("use_basic_auth", "enable_signature_checking", "enable_jwt"))
    if other and not r.flag(doc, "use_standard_auth", "$"):
        return None
    # Tyk reads the deprecated top-level `auth` only when `auth_configs.authToken` is absent.
    configs = r.obj(doc, "auth_configs", "$")
    if configs.get("authToken") is not None:
        source, path = r.obj(configs, "authToken", "$.auth_configs"), "$.auth_configs.authToken"
    else:
        source, path = r.obj(doc, "auth", "$"), "$.auth"
    return classic_source(r, source, path, r.flag(doc, "strip_auth_data", "$"))


def _rate_limit(r: Reader, doc: dict[str, Any]) -> RateSpec | None:
    limit = r.obj(doc, "global_rate_limit", "$")
    path = "$.global_rate_limit"
    rate, per = r.number(limit, "rate", path), r.number(limit, "per", path)
    if r.flag(limit, "disabled", path) or r.flag(doc, "disable_rate_limit", "$"):
        return None
    return r.rate(rate, per, path, limit.get("per"))


def _handlers(r: Reader, doc: dict[str, Any]) -> tuple[HandlerSpec, ...]:
    events = r.obj(r.obj(doc, "event_handlers", "$"), "events", "$.event_handlers")
    out: list[HandlerSpec] = []
    for event, entries in events.items():
        path = f"$.event_handlers.events.{event}"
        if not isinstance(entries, list):
            raise r.fail(path, f"expected a list of handlers, got {show(entries)}")
        for i, entry in enumerate(entries):
            at = f"{path}[{i}]"
            if not isinstance(entry, dict):
                raise r.fail(at, f"expected a handler object, got {show(entry)}")
            kind = entry.get("handler_name")
            if not isinstance(kind, str) or not kind:
                raise r.fail(
                    f"{at}.handler_name",
                    f'required: a handler name such as "eh_web_hook_handler", got {show(kind)}',
                )
            # Meta is kept as written: each handler kind validates its own meta when it is built.
            meta = dict(r.obj(entry, "handler_meta", at))
            out.append(HandlerSpec(event=event, kind=kind, meta=meta, where=f"{r.where} {at}"))
    return tuple(out)


def event_handlers(raw: Any, where: str) -> tuple[HandlerSpec, ...]:
    """Tyk's `event_handlers` block on its own: tyk.conf's gateway-level handlers share the Classic shape."""
    return _handlers(Reader(where), {"event_handlers": raw or {}})
