"""The internal API model: what the gateway serves, independent of the Classic or OAS source.

Frozen and validated: every field here is already checked and defaulted, so middleware never
re-validates on the request path. Pure data: this module imports nothing from the package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class AuthTokenSpec:
    """Where the auth token is read from (Tyk `auth_configs.authToken` / OAS apiKey security scheme)."""

    header_name: str = "Authorization"
    use_header: bool = True
    use_param: bool = False
    param_name: str = "Authorization"
    use_cookie: bool = False
    cookie_name: str = "Authorization"
    strip_auth_data: bool = False


@dataclass(frozen=True, slots=True)
class BasicAuthSpec:
    """Tyk's Basic auth (Classic `use_basic_auth`, `basic_auth`, `auth_configs.basic`; OAS an http basic
    security scheme): where the `user:password` credential is read (also from the body, by two regular
    expressions), and how long a bcrypt check is remembered (`cache_ttl` s; off with `disable_caching`)."""

    source: AuthTokenSpec = AuthTokenSpec()
    disable_caching: bool = False
    cache_ttl: float = 60.0
    # extract_from_body: the regular expressions whose first group is the user and the password in the
    # body, tried when the header gives no credential ("" = the body is never read)
    body_user: str = ""
    body_password: str = ""


@dataclass(frozen=True, slots=True)
class HMACSpec:
    """Tyk's HMAC request signing (Classic `enable_signature_checking`, `hmac_allowed_algorithms`,
    `hmac_allowed_clock_skew`, `auth_configs.hmac`; OAS `server.authentication.hmac`): where the
    `Signature ...` credential is read, the algorithms allowed (empty = any, as in Tyk) and the clock
    skew in milliseconds (<= 0: not checked, though the Date must still parse)."""

    source: AuthTokenSpec = AuthTokenSpec()
    allowed_algorithms: tuple[str, ...] = ()
    clock_skew_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class JWTSpec:
    """Tyk's JWT auth: where the token is read, the signing method ("hmac", "rsa", "ecdsa"), `secret` (Tyk's
    jwt_source: a base64 secret or PEM key; "" = each key's own jwt_data.secret, named by the token's kid),
    the claims naming the user and the policy, default policies and the time-claim skews (seconds)."""

    source: AuthTokenSpec = AuthTokenSpec()
    signing_method: str = "hmac"
    secret: str = ""
    secret_bytes: bytes | None = None  # `secret` base64-decoded as Tyk reads it; None if it is not base64
    jwks: tuple[tuple[str, float], ...] = ()  # (JWKS URL, seconds its keys are kept; 0 = the default)
    identity_field: str = "sub"
    policy_field: str = ""
    client_field: str = ""  # a claim naming a key whose first policy is the base (without policy_field)
    default_policies: tuple[str, ...] = ()
    skip_kid: bool = False
    iat_skew: int = 0
    exp_skew: int = 0
    nbf_skew: int = 0
    scope_claim: str = "scope"  # the claim listing the token's scopes
    scope_policies: tuple[tuple[str, str], ...] = ()  # (scope, policy id): Tyk's scope_to_policy


@dataclass(frozen=True, slots=True)
class RateSpec:
    """A `rate` per `per` seconds limit (API-level: Classic global_rate_limit, OAS upstream.rateLimit)."""

    rate: float
    per: float


@dataclass(frozen=True, slots=True)
class HookSpec:
    """One Python request hook: `stage` is pre, post_key_auth or post; `where` its JSON path."""

    stage: str
    name: str
    path: str
    where: str = ""
    timeout: float = 5.0  # not in Tyk: seconds before the request is answered 500


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One event handler as written in the definition, its meta normalised to Tyk Classic keys.

    `kind` is the name the definition gave: a Classic handler_name (`eh_web_hook_handler`, ...) or an
    OAS type (`webhook`, ...); the handler registry (handlers/registry.py) knows both. OAS meta arrives
    translated to Classic keys (url -> target_path, cooldownPeriod -> event_timeout, ...). `where` is
    the JSON path of the entry, for error messages.
    """

    event: str
    kind: str
    meta: Mapping[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class UptimeCheck:
    """One uptime test (Classic `uptime_tests.check_list[]`, OAS `upstream.uptimeTests.tests[]`).

    `url` is Tyk's CheckURL as written; `kind` is how it is probed (http, https, tcp or tls); `host` is
    the URL's host[:port] as written, the key of Tyk's down marker. `timeout` is in seconds, 0 = the
    default. `body` is already base64-decoded; `commands` are (send|expect, message) pairs for TCP.
    """

    url: str
    kind: str
    host: str
    protocol: str = ""  # Tyk's Protocol field as written (Classic) or the URL scheme (OAS)
    timeout: float = 0.0
    method: str = ""  # "" probes with GET, as Tyk does
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""
    commands: tuple[tuple[str, str], ...] = ()
    enable_proxy_protocol: bool = False


@dataclass(frozen=True, slots=True)
class UptimeSpec:
    """Uptime checks, and the load-balanced targets that may skip hosts those checks mark down.

    `targets` empty = load balancing off (proxy to `target_url`); duplicates act as weights.
    """

    checks: tuple[UptimeCheck, ...] = ()
    targets: tuple[str, ...] = ()
    skip_down_hosts: bool = False


@dataclass(frozen=True, slots=True)
class BreakerSpec:
    """One circuit breaker (Classic `extended_paths.circuit_breakers[]`, OAS operation `circuitBreaker`).

    `path` is the pattern as configured (Tyk puts it in the events' `.Meta.Path`); it is matched against
    the request path relative to the listen path. `threshold` is a fraction (0.5 = half the samples).
    """

    path: str
    method: str  # upper case
    threshold: float
    samples: int
    return_to_service_after: float  # seconds after a trip until an unconditional reset
    half_open: bool = True

    def regex(self) -> re.Pattern[str]:
        """Tyk's path pattern as a regex anchored at the start: `{name}` matches one path segment."""
        return re.compile("^" + re.sub(r"\{[^/{}]*\}", "[^/]+", self.path))


@dataclass(frozen=True, slots=True)
class UpstreamOAuthSpec:
    """Upstream OAuth (Classic `upstream_auth.oauth`, OAS `upstream.authentication.oauth`): the gateway
    fetches a token with one grant and sends it upstream as `<header_name>: Bearer <token>`."""

    grant: str  # "clientCredentials" or "password" (Tyk's allowed_authorize_types value)
    client_id: str
    token_url: str  # absolute http(s) URL
    # Secrets stay out of repr(): a spec may be logged.
    client_secret: str = field(default="", repr=False)
    scopes: tuple[str, ...] = ()
    username: str = ""  # password grant only
    password: str = field(default="", repr=False)
    method: str = ""  # "client_secret_basic", "client_secret_post", "" = auto (header, then body)
    header_name: str = "Authorization"
    extra_metadata: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CertSpec:
    """Certificates an API names (Classic `use_mutual_tls_auth`/`client_certificates`/`upstream_certificates`,
    OAS `server.clientCertificates`/`upstream.mutualTLS`). Each reference is a certificate id from the
    store or a file path; they are resolved when the API loads, not here."""

    mutual_tls: bool = False
    client_certificates: tuple[str, ...] = ()
    upstream: tuple[tuple[str, str], ...] = ()  # (host or "*", certificate reference)


@dataclass(frozen=True, slots=True)
class VersionSpec:
    """Tyk's versioning (TYK-REFERENCE 7.10): Classic `version_data` + `definition`, OAS `info.versioning`.

    Expiry times are Unix seconds (UTC, as Tyk parses `2006-01-02 15:04`); None = never expires.
    `versions` maps a legacy version name to its expiry. `enabled` turns on base/child routing, where
    `children` maps a version name to the API id that serves it and `name` is the base's own version.
    """

    not_versioned: bool = True
    default_version: str = ""
    versions: Mapping[str, float | None] = field(default_factory=dict)
    location: str = ""  # "", "header", "url-param" or "url"; "" = the request never names a version
    key: str = ""
    strip: bool = False  # strip_versioning_data (or the deprecated strip_path)
    url_pattern: str = ""  # url_versioning_pattern: the URL segment is stripped only when it matches
    fallback_to_default: bool = False
    api_expires: float | None = None  # the API-level `expiration`
    enabled: bool = False
    name: str = ""
    default: str = ""
    children: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class APISpec:
    api_id: str
    name: str
    org_id: str
    listen_path: str  # always starts with "/"
    target_url: str  # absolute http(s) URL
    strip_listen_path: bool = False
    domain: str = ""  # host match; empty = any host
    active: bool = True
    auth: AuthTokenSpec | None = None  # the auth token (Tyk's standard auth); None = not asked for
    basic_auth: BasicAuthSpec | None = None
    hmac: HMACSpec | None = None
    jwt: JWTSpec | None = None
    # Tyk's base_identity_provided_by: which method's session the key steps act on ("" = the last one)
    identity: str = ""
    rate_limit: RateSpec | None = None  # API-level rate limit
    event_handlers: tuple[HandlerSpec, ...] = ()
    hooks: tuple[HookSpec, ...] = ()  # Python request hooks (custom_middleware, driver python)
    preserve_host_header: bool = False
    uptime: UptimeSpec = UptimeSpec()
    breakers: tuple[BreakerSpec, ...] = ()
    upstream_oauth: UpstreamOAuthSpec | None = None
    certs: CertSpec = field(default_factory=CertSpec)
    source: str = ""  # the file it came from ("" when posted and not yet written)
    # The YAML file or Operator manifest (and document) that holds it: the REST API does not rewrite those.
    managed_by: str = ""
    format: str = "classic"  # "classic" or "oas"
    versioning: VersionSpec = field(default_factory=VersionSpec)
    ignored: tuple[str, ...] = ()  # unsupported non-security features, logged once at load
    # (JSON path, URL) the gateway calls on its own, for the outbound policy; paths differ by format.
    calls: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyless(self) -> bool:
        return self.auth is None and self.basic_auth is None and self.hmac is None and self.jwt is None
