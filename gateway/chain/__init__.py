"""The middleware chain: ORDER (the one ordered tuple) and the per-API chain built from it at load.

Each middleware class has `enabled(spec, config)` (decided once, at load), a constructor taking the
same two (most read only the spec; hook stages find user code through the config), and `async
on_request(ctx)`, which returns None to go on or raises Reject after firing its event; one that must
see the proxy's outcome also has `on_response` and `close` (ResponseHook). The store-outage policy is
`policy.store_failure`, so every limiting middleware fails open or closed the same way.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, runtime_checkable

from gateway.apidef.model import APISpec
from gateway.chain.access_rights import AccessRights
from gateway.chain.auth import AuthToken
from gateway.chain.basic_auth import BasicAuth
from gateway.chain.cert_check import CertificateCheck
from gateway.chain.circuit_breaker import CircuitBreaker
from gateway.chain.hmac_auth import HMACAuth
from gateway.chain.hooks import PostAuthHooks, PostHooks, PreHooks
from gateway.chain.jwt_auth import JWTAuth
from gateway.chain.key_expiry import KeyExpiry
from gateway.chain.org_limits import OrgLimits
from gateway.chain.quota import KeyQuota
from gateway.chain.rate_limit import APIRateLimit, KeyRateLimit
from gateway.chain.upstream_auth import UpstreamOAuth
from gateway.chain.version_check import VersionCheck
from gateway.config.model import Config
from gateway.context import RequestContext


class Middleware(Protocol):
    name: ClassVar[str]

    def __init__(self, spec: APISpec, config: Config) -> None: ...

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool: ...

    async def on_request(self, ctx: RequestContext) -> None: ...


@runtime_checkable
class ResponseHook(Protocol):
    def on_response(self, ctx: RequestContext, status: int | None) -> None:
        """After the proxy step: the status sent to the client (an UpstreamError's too), None if aborted."""

    def close(self) -> None:
        """The API's routes were replaced or the gateway stops: cancel any timers."""


DEFAULT_CONFIG = Config()


# Tyk's order (TYK-REFERENCE 7.1) for the middleware implemented so far; the breaker comes last because
# it guards the proxy step itself (its on_response sees the upstream's answer).
ORDER: tuple[type[Middleware], ...] = (
    VersionCheck,
    PreHooks,  # Tyk's `pre` custom middleware: before auth and limits
    CertificateCheck,
    OrgLimits,
    BasicAuth,  # Tyk's auth order: basic, HMAC, JWT, then the auth token; every one must pass
    HMACAuth,
    JWTAuth,
    AuthToken,
    PostAuthHooks,  # Tyk's `post_key_auth`: right after auth, before the key's checks
    KeyExpiry,
    AccessRights,
    KeyRateLimit,
    KeyQuota,  # with KeyRateLimit, Tyk's RateLimitAndQuotaCheck: rate first, then quota
    APIRateLimit,
    UpstreamOAuth,
    PostHooks,  # Tyk's `post`: the last word on the request before the proxy
    CircuitBreaker,
)


def build(spec: APISpec, config: Config = DEFAULT_CONFIG) -> tuple[Middleware, ...]:
    """The enabled middleware of one API, in ORDER; an API with none proxies straight through.
    ConfigError when a hook's file cannot be loaded (the caller skips that API)."""
    return tuple(m(spec, config) for m in ORDER if m.enabled(spec, config))


def responders(chain: tuple[Middleware, ...]) -> tuple[ResponseHook, ...]:
    """The steps that want the proxy's outcome, last first; empty (and free) for most APIs."""
    return tuple(m for m in reversed(chain) if isinstance(m, ResponseHook))


async def run(chain: tuple[Middleware, ...], ctx: RequestContext) -> None:
    for middleware in chain:
        await middleware.on_request(ctx)
