"""Tyk OAS definitions (an OpenAPI document with `x-tyk-api-gateway`) into an APISpec, event handlers
translated to Tyk Classic names and meta (TYK-REFERENCE 3.2).

Pure: dict in, APISpec out, no I/O. An auth method (or access restriction) this gateway lacks raises
ConfigError so the API is skipped, never served open; other missing features land in `spec.ignored`.
"""

from __future__ import annotations

import hashlib
import math
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
from gateway.apidef.common import Reader, oas_source, show
from gateway.apidef.model import (
    APISpec,
    AuthTokenSpec,
    BasicAuthSpec,
    HandlerSpec,
    HMACSpec,
    JWTSpec,
    RateSpec,
)
from gateway.errors import ConfigError

X = "$.x-tyk-api-gateway"
UNSUPPORTED_MODES = (
    ("oidc", "OpenID Connect"),
    ("custom", "custom plugin auth"),
)
SCHEME_NAMES = {
    "apiKey": "apiKey",
    "oauth2": "OAuth 2.0",
    "openIdConnect": "OpenID Connect",
    "mutualTLS": "mutual TLS",
}


def parse(raw: Any, where: str) -> APISpec:
    """One OAS definition; ConfigError (naming `where`, the JSON path and the value) if invalid."""
    r = Reader(where)
    doc = r.root(raw)
    ext = r.obj(doc, "x-tyk-api-gateway", "$")
    info, server, upstream = (r.obj(ext, key, X) for key in ("info", "server", "upstream"))
    listen = r.obj(server, "listenPath", f"{X}.server")
    listen_path = r.listen_path(listen.get("value"), f"{X}.server.listenPath.value")
    name = r.text(info, "name", f"{X}.info") or r.text(r.obj(doc, "info", "$"), "title", "$.info")
    custom_domain = r.obj(server, "customDomain", f"{X}.server")
    domain = r.text(custom_domain, "name", f"{X}.server.customDomain")
    state = r.obj(info, "state", f"{X}.info")
    token, basic, hmac, jwt = _auth(r, doc, server)
    authentication = r.obj(server, "authentication", f"{X}.server")
    return APISpec(
        api_id=r.text(info, "id", f"{X}.info") or derived_id(name, listen_path),
        name=name,
        org_id=r.text(info, "orgId", f"{X}.info"),
        listen_path=listen_path,
        target_url=r.target_url(upstream.get("url"), f"{X}.upstream.url"),
        strip_listen_path=r.flag(listen, "strip", f"{X}.server.listenPath"),
        domain=domain.strip() if r.flag(custom_domain, "enabled", f"{X}.server.customDomain") else "",
        active=r.flag(state, "active", f"{X}.info.state", default=True),
        auth=token,
        basic_auth=basic,
        hmac=hmac,
        jwt=jwt,
        identity=basic_auth.identity(
            r, authentication.get("baseIdentityProvider"), f"{X}.server.authentication.baseIdentityProvider"
        ),
        rate_limit=_rate_limit(r, ext, upstream),
        event_handlers=_handlers(r, server),
        hooks=hooks.oas(r, ext),
        preserve_host_header=r.flag(
            r.obj(upstream, "preserveHostHeader", f"{X}.upstream"),
            "enabled",
            f"{X}.upstream.preserveHostHeader",
        ),
        uptime=uptime.oas(r, upstream),
        breakers=breakers.oas(r, doc, ext),
        upstream_oauth=upstream_auth.oas(r, upstream),
        certs=certs.oas(r, server, upstream),
        source=where,
        format="oas",
        versioning=versions.oas(r, info),
        ignored=features.oas(r, ext, info, server, upstream),
        raw=doc,
        calls=tuple(r.calls),  # last: the reads above note them
    )


def derived_id(name: str, listen_path: str) -> str:
    """An id for a definition without `info.id`: stable across reloads and machines (Tyk would draw a
    random one), so keys' access rights keep pointing at the same API."""
    return "oas-" + hashlib.sha256(f"{name}\n{listen_path}".encode()).hexdigest()[:16]


def _auth(
    r: Reader, doc: dict[str, Any], server: dict[str, Any]
) -> tuple[AuthTokenSpec | None, BasicAuthSpec | None, HMACSpec | None, JWTSpec | None]:
    """The auth token, Basic auth, HMAC signing and JWT an API asks for (all None when authentication is
    off). As in Tyk's legacy mode, every enabled method must pass; the auth token also guards an API
    enabling none."""
    path = f"{X}.server.authentication"
    auth = r.obj(server, "authentication", f"{X}.server")
    # Checked even when authentication is off: such a file contradicts itself, and guessing "open" is unsafe.
    for key, what in UNSUPPORTED_MODES:
        if r.flag(r.obj(auth, key, path), "enabled", f"{path}.{key}"):
            raise r.unsupported(f"{path}.{key}.enabled", what)
    declared = r.obj(r.obj(doc, "components", "$"), "securitySchemes", "$.components")
    token: tuple[str, dict[str, Any], dict[str, Any]] | None = None
    basic: BasicAuthSpec | None = None
    jwt: JWTSpec | None = None
    strip = r.flag(auth, "stripAuthorizationData", path)
    hmac = hmac_auth.oas(r, auth, path, strip)
    for name, scheme in r.obj(auth, "securitySchemes", path).items():
        at = f"{path}.securitySchemes.{name}"
        if not isinstance(scheme, dict):
            raise r.fail(at, f"expected an object, got {show(scheme)}")
        if not r.flag(scheme, "enabled", at):
            continue
        component = declared.get(name)
        if not isinstance(component, dict):
            raise r.fail(at, f"enabled, but $.components.securitySchemes.{name} does not declare it")
        kind = _scheme_kind(component)
        if kind == "basic auth" and basic is None:
            basic = basic_auth.oas(r, scheme, at, strip)
            continue
        if kind == "JWT auth" and jwt is None:
            jwt = jwt_auth.oas(r, scheme, at, strip)
            continue
        if kind != "apiKey":
            raise r.unsupported(f"{at}.enabled", kind)
        if token is not None:
            raise r.fail(at, f"only one apiKey scheme may be enabled, and {token[0]!r} already is")
        token = (name, scheme, component)
    if not r.flag(auth, "enabled", path):
        return None, None, None, None
    if token is not None:
        return _token(r, path, strip, *token), basic, hmac, jwt
    # Tyk falls back to its auth token with default settings when no other method is on.
    other = basic is not None or hmac is not None or jwt is not None
    fallback = None if other else AuthTokenSpec(strip_auth_data=strip)
    return fallback, basic, hmac, jwt


def _scheme_kind(component: dict[str, Any]) -> str:
    kind, scheme = component.get("type"), str(component.get("scheme", "")).lower()
    if kind == "http" and scheme == "basic":
        return "basic auth"
    if kind == "http" and scheme == "bearer" and component.get("bearerFormat") == "JWT":
        return "JWT auth"
    name = SCHEME_NAMES.get(kind) if isinstance(kind, str) else None
    return name or f"security scheme type {show(kind)}"


def _token(
    r: Reader, path: str, strip: bool, name: str, scheme: dict[str, Any], component: dict[str, Any]
) -> AuthTokenSpec:
    cpath = f"$.components.securitySchemes.{name}"
    where = r.text(component, "in", cpath)
    if where not in ("header", "query", "cookie"):
        raise r.fail(
            f"{cpath}.in", f'expected "header", "query" or "cookie", got {show(component.get("in"))}'
        )
    declared = (where, r.text(component, "name", cpath))
    return oas_source(r, scheme, f"{path}.securitySchemes.{name}", strip, declared)


def _rate_limit(r: Reader, ext: dict[str, Any], upstream: dict[str, Any]) -> RateSpec | None:
    path = f"{X}.upstream.rateLimit"
    limit = r.obj(upstream, "rateLimit", f"{X}.upstream")
    rate = limit.get("rate", 0)
    if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool)):
        raise r.fail(f"{path}.rate", f"expected an integer, got {show(rate)}")
    per = r.duration(limit, "per", path)
    skip = r.obj(r.obj(ext, "middleware", X), "global", f"{X}.middleware").get("skipRateLimit") is True
    if not r.flag(limit, "enabled", path) or skip:
        return None
    return r.rate(float(rate or 0), per, path, limit.get("per"))


def _handlers(r: Reader, server: dict[str, Any]) -> tuple[HandlerSpec, ...]:
    path = f"{X}.server.eventHandlers"
    entries = server.get("eventHandlers")
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise r.fail(path, f"expected a list of event handlers, got {show(entries)}")
    out: list[HandlerSpec] = []
    for i, entry in enumerate(entries):
        at = f"{path}[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(at, f"expected an event handler object, got {show(entry)}")
        trigger = r.text(entry, "trigger", at)
        if not trigger:
            raise r.fail(
                f"{at}.trigger",
                f'required: an event name such as "RatelimitExceeded", got {show(entry.get("trigger"))}',
            )
        kind = r.text(entry, "type", at)
        out.append(
            HandlerSpec(
                event=trigger,
                kind=kind,  # the registry knows OAS types as well as Classic names
                meta=_meta(r, entry, kind, at),
                where=f"{r.where} {at}",
            )
        )
    return tuple(out)


def _meta(r: Reader, entry: dict[str, Any], kind: str, at: str) -> dict[str, Any]:
    disabled = not r.flag(entry, "enabled", at)
    if kind == "webhook":
        headers: dict[str, str] = {}
        for i, pair in enumerate(r.items(entry, "headers", at)):
            if not isinstance(pair, dict) or not all(isinstance(pair.get(k), str) for k in ("name", "value")):
                raise r.fail(
                    f"{at}.headers[{i}]", f'expected {{"name": ..., "value": ...}}, got {show(pair)}'
                )
            headers[pair["name"]] = pair["value"]
        return {
            "disabled": disabled,
            "id": r.text(entry, "id", at),
            "name": r.text(entry, "name", at),
            "method": r.text(entry, "method", at),
            "target_path": r.text(entry, "url", at),
            "template_path": r.text(entry, "bodyTemplate", at),
            "header_map": headers,
            "event_timeout": _cooldown(r, entry, at),
            # Not in Tyk: delivery options, checked when the handler is built (gateway.delivery.options).
            **{meta: entry[key] for key, meta in _DELIVERY_KEYS.items() if key in entry},
        }
    if kind == "log":
        return {"disabled": disabled, "prefix": r.text(entry, "logPrefix", at)}
    if kind == "custom":
        return {
            "disabled": disabled,
            "name": r.text(entry, "functionName", at),
            "path": r.text(entry, "path", at),
            **({"timeout": entry["timeout"]} if "timeout" in entry else {}),  # not in Tyk: seconds per call
        }
    # Any other type: its fields as written, `enabled` said the Classic way (a kind with no branch here
    # still honours it). An unknown type is named by the handler layer when it builds the handlers.
    return {**entry, "disabled": disabled}


_DELIVERY_KEYS = {
    "retry": "retry",
    "signingSecrets": "signing_secrets",
    "signingSecret": "signing_secret",
    "redactKeys": "redact_keys",
    "envelope": "envelope",
    "cooldownMode": "cooldown_mode",
}


def _cooldown(r: Reader, entry: dict[str, Any], at: str) -> int | str:
    """Whole seconds; an unparsable period stays as written so that this one handler is refused when
    it is built (naming the value), while the API and its other handlers still load."""
    try:
        return math.floor(r.duration(entry, "cooldownPeriod", at))
    except ConfigError:
        return str(entry.get("cooldownPeriod"))
