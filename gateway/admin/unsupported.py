"""The Gateway API operations of Tyk's swagger.yml this gateway does not implement, answered 501 with a
JSON error naming what is not supported, so that a tool driving them learns why instead of being sent
to a route that happens to match (`/tyk/cache/{id}` is answered here, not as some other route).

Only routing: mounted before every other admin route, it must never shadow an implemented operation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import error

# (path, methods, what is not supported), from Tyk's swagger.yml.
UNSUPPORTED: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("/tyk/mcps", ("GET", "POST"), "MCP proxies"),
    ("/tyk/mcps/{api_id}", ("GET", "PUT", "DELETE"), "MCP proxies"),
    ("/tyk/cache/{api_id}", ("DELETE",), "Response caching"),
    ("/tyk/debug", ("POST",), "The debug endpoint"),
    ("/tyk/oauth/{rest:path}", ("GET", "POST", "PUT", "DELETE"), "OAuth 2.0"),
)


def routes() -> list[Route]:
    def refuse(what: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return error(501, f"{what} is not supported by this gateway")

        return endpoint

    return [Route(path, refuse(what), methods=list(methods)) for path, methods, what in UNSUPPORTED]
