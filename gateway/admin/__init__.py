"""The Gateway REST API (`/tyk/keys`, `/tyk/apis`, `/tyk/reload`) and the health check, on Starlette.

`build_admin(gw)` assembles the rooms: `auth` (the secret guard), `keys`, `org_keys`, `apis`, `certs`,
`deliveries` (the webhook delivery log), `webhooks` (global webhooks), `catalog` (the event
catalog, AsyncAPI), `templates` (template preview), `openapi` (this API's OpenAPI
document), `system` (reload, health, error bodies). It sees the gateway only through `deps.AdminGateway`
and is never on the proxy hot path: `app/gateway.py` hands it `/tyk/*` and the health check path only.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.admin import (
    apis,
    catalog,
    certs,
    deliveries,
    endpoints,
    keys,
    oas_io,
    openapi,
    org_keys,
    policies,
    schema,
    system,
    templates,
    unsupported,
    versions,
    webhooks,
)
from gateway.admin.auth import AdminGuard
from gateway.admin.deps import AdminGateway

# API definitions (OAS documents) can be large; anything past this is not a definition.
MAX_BODY = 32 * 1024 * 1024


def build_admin(gw: AdminGateway) -> Starlette:
    return Starlette(
        routes=[
            *system.cache_routes(gw),  # before the 501s: /tyk/cache/{api_id} would take "jwks"
            *unsupported.routes(),  # then: a path of Tyk's that another route would misread
            *policies.routes(gw),  # before keys: /tyk/keys/policy/{key} is not a key named "policy/..."
            *keys.routes(gw),
            *org_keys.routes(gw),
            *oas_io.routes(gw),  # before apis: /tyk/apis/oas/export is not the API "export"
            *versions.routes(gw),  # before apis: /tyk/apis/{id}/versions is not the API "{id}/versions"
            *apis.routes(gw),
            *schema.routes(),
            *certs.routes(gw),
            # Before any /tyk/webhooks/{id} route, which would otherwise take "deliveries" for an id.
            *deliveries.routes(gw),
            *endpoints.routes(gw),  # also before: "endpoints" is no webhook's id
            *webhooks.routes(gw),
            *catalog.routes(gw),
            *templates.routes(gw),
            *openapi.routes(),
            *system.routes(gw),
        ],
        middleware=[Middleware(AdminGuard, secret=gw.config.secret)],
        exception_handlers=system.EXCEPTION_HANDLERS,
        max_body_size=MAX_BODY,
    )


__all__ = ["AdminGateway", "build_admin"]
