"""The internal API model: what the gateway serves, independent of the Classic or OAS source.

Frozen and validated: every field here is already checked and defaulted, so middleware never
re-validates on the request path. Pure data: this module imports nothing from the package.
"""

from __future__ import annotations

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
class RateSpec:
    """A `rate` per `per` seconds limit (API-level: Classic global_rate_limit, OAS upstream.rateLimit)."""

    rate: float
    per: float


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """One event handler as written in the definition, normalised to Tyk Classic names.

    `kind` is the Classic handler_name (`eh_web_hook_handler`, `eh_log_handler`, `eh_dynamic_handler`,
    `cp_dynamic_handler`); OAS `webhook`/`log`/`custom` entries arrive here already mapped, with their
    meta translated to Classic keys (url -> target_path, cooldownPeriod -> event_timeout, ...).
    `where` is the JSON path of the entry, for error messages.
    """

    event: str
    kind: str
    meta: Mapping[str, Any]
    where: str


@dataclass(frozen=True, slots=True)
class CertSpec:
    """Certificates an API names (Classic `use_mutual_tls_auth`/`client_certificates`/`upstream_certificates`,
    OAS `server.clientCertificates`/`upstream.mutualTLS`). Each reference is a certificate id from the
    store or a file path; they are resolved when the API loads, not here."""

    mutual_tls: bool = False
    client_certificates: tuple[str, ...] = ()
    upstream: tuple[tuple[str, str], ...] = ()  # (host or "*", certificate reference)


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
    auth: AuthTokenSpec | None = None  # None = keyless
    rate_limit: RateSpec | None = None  # API-level rate limit
    event_handlers: tuple[HandlerSpec, ...] = ()
    preserve_host_header: bool = False
    certs: CertSpec = field(default_factory=CertSpec)
    source: str = ""  # the file it came from ("" when posted and not yet written)
    format: str = "classic"  # "classic" or "oas"
    ignored: tuple[str, ...] = ()  # unsupported non-security features, logged once at load
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyless(self) -> bool:
        return self.auth is None
