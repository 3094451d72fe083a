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
    upstream_oauth: UpstreamOAuthSpec | None = None
    source: str = ""  # the file it came from ("" when posted and not yet written)
    format: str = "classic"  # "classic" or "oas"
    ignored: tuple[str, ...] = ()  # unsupported non-security features, logged once at load
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def keyless(self) -> bool:
        return self.auth is None
