"""`/tyk/reload` (this process) and `/tyk/reload/group` (every gateway on the store), the health check
(`/hello` by default) and the admin API's 404/405/500 bodies.

The health check needs no secret and always answers 200, with `fail` in the body when the store does
not answer, as Tyk does; its one component is named after the store in use (Tyk's `redis`, or
`embedded`). Reload only asks the gateway to reload; it knows nothing of routing.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.admin.auth import shown_path
from gateway.admin.common import REQUEST_MALFORMED, Malformed, TykJSON, error, rfc3339, status
from gateway.admin.deps import AdminGateway
from gateway.errors import ConfigError, StoreError
from gateway.log import get_logger

log = get_logger("admin")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def routes(gw: AdminGateway) -> list[Route]:
    async def reload(request: Request) -> Response:
        try:
            # /group also reloads every other gateway (and worker) on a shared store, as Tyk's does.
            await (gw.reload_group() if request.url.path.endswith("/group") else gw.reload())
        except ConfigError as exc:
            log.error("reload failed: %s", exc)
            return error(500, str(exc))
        return status(200, "ok", "")

    async def hello(request: Request) -> Response:
        if request.method != "GET":
            return error(405, "Method Not Allowed")
        try:
            up = await gw.store.ping()
        except StoreError:
            up = False
        check: dict[str, str] = {"status": "pass" if up else "fail"}
        if not up:
            check["output"] = "the store does not answer"
        check.update(componentType="datastore", time=rfc3339(time.time(), fraction=False))
        # Tyk has only Redis; a monitor reading `details.redis` on the embedded store would be misled.
        component = gw.store.name
        return TykJSON(
            {
                "status": check["status"],
                "version": __version__,
                "description": "Tyk GW",
                "details": {component: check},
            }
        )

    name = "/" + gw.config.health_check_endpoint_name.strip("/")
    return [
        Route("/tyk/reload", reload, methods=["GET"]),
        Route("/tyk/reload/", reload, methods=["GET"]),
        Route("/tyk/reload/group", reload, methods=["GET"]),
        Route(name, hello, methods=ALL_METHODS),
    ]


async def not_found(request: Request, exc: Exception) -> Response:
    return error(404, "Not found")


async def not_allowed(request: Request, exc: Exception) -> Response:
    return error(405, "Method not supported")


async def malformed(request: Request, exc: Exception) -> Response:
    field = exc.field if isinstance(exc, Malformed) else ""
    return error(400, f"{REQUEST_MALFORMED}: {field}" if field else REQUEST_MALFORMED)


async def store_failed(request: Request, exc: Exception) -> Response:
    log.error("admin %s %s: store failed: %s", request.method, shown_path(request.url.path), exc)
    return error(500, "There was a problem with the store")


EXCEPTION_HANDLERS = {
    404: not_found,
    405: not_allowed,
    Malformed: malformed,
    StoreError: store_failed,
}


def cache_routes(gw: AdminGateway) -> list[Route]:
    """Tyk's JWKS cache purge, for one API or all (idempotent). Mounted before the 501s, whose
    /tyk/cache/{api_id} (response caching) would otherwise read "jwks" as an API id."""

    async def forget_jwks(request: Request) -> Response:
        gw.invalidate_jwks(request.path_params.get("api_id"))
        return status(200, "ok", "cache invalidated")

    return [
        Route("/tyk/cache/jwks", forget_jwks, methods=["DELETE"]),
        Route("/tyk/cache/jwks/{api_id}", forget_jwks, methods=["DELETE"]),
    ]
