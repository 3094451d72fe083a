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
    auth: AuthTokenSpec | None = None  # None = keyless
    rate_limit: RateSpec | None = None  # API-level rate limit
    event_handlers: tuple[HandlerSpec, ...] = ()
    preserve_host_header: bool = False
    source: str = ""  # the file it came from ("" when posted and not yet written)
    format: str = "classic"  # "classic" or "oas"
    versioning: VersionSpec = field(default_factory=VersionSpec)
    ignored: tuple[str, ...] = ()  # unsupported non-security features, logged once at load
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyless(self) -> bool:
        return self.auth is None
