"""The middleware chain: ORDER (the one ordered tuple) and the per-API chain built from it at load.

Each middleware class has `enabled(spec)` (decided once, at load) and `async on_request(ctx)`, which
returns None to go on or raises Reject after firing its event. The store-outage policy lives here,
in `store_failure`, so every limiting middleware fails open or closed the same way.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from gateway.apidef.model import APISpec
from gateway.chain.access_rights import AccessRights
from gateway.chain.auth import AuthToken
from gateway.chain.key_expiry import KeyExpiry
from gateway.chain.rate_limit import APIRateLimit, KeyRateLimit
from gateway.chain.version_check import VersionCheck
from gateway.context import RequestContext


class Middleware(Protocol):
    name: ClassVar[str]

    def __init__(self, spec: APISpec) -> None: ...

    @staticmethod
    def enabled(spec: APISpec) -> bool: ...

    async def on_request(self, ctx: RequestContext) -> None: ...


# Tyk's order (TYK-REFERENCE 7.1) for the middleware implemented so far.
ORDER: tuple[type[Middleware], ...] = (
    VersionCheck,
    AuthToken,
    KeyExpiry,
    AccessRights,
    KeyRateLimit,
    APIRateLimit,
)


def build(spec: APISpec) -> tuple[Middleware, ...]:
    """The enabled middleware of one API, in ORDER; an API with none proxies straight through."""
    return tuple(m(spec) for m in ORDER if m.enabled(spec))


async def run(chain: tuple[Middleware, ...], ctx: RequestContext) -> None:
    for middleware in chain:
        await middleware.on_request(ctx)
