"""The Dashboard (tyk.conf `dashboard.enabled`): server-rendered pages under /dashboard/ on the gateway's
listener, signed in with the admin secret. `build_dashboard(gw, secure)` assembles the rooms: `auth`
(the guard, sign-in, sign-out), `webhooks`, `apis`, `events` (live, over SSE), `deliveries`, `preview`
(a template rendered against a sample event), and the static files (htmx 2.0.11 from npm's htmx.org,
our own script and style; no CDN, no build step).

It sees the gateway only through `admin.deps.AdminGateway` and is never on the proxy hot path:
`app/front.py` hands it /dashboard paths only, and only when it is on.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.admin.deps import AdminGateway
from gateway.dashboard import apis, auth, deliveries, events, preview, webhooks
from gateway.dashboard.common import PREFIX, Dash, signed_in
from gateway.errors import StoreError
from gateway.log import get_logger

log = get_logger("dashboard")

STATIC = Path(__file__).resolve().parent / "static"


def build_dashboard(gw: AdminGateway, secure: bool) -> Starlette:
    """`secure`: the listener is TLS, so the session cookie is marked Secure."""
    dash = Dash(gw, secure)

    async def home(request: Request) -> Response:
        return RedirectResponse(PREFIX + "/webhooks", status_code=303)

    async def problem(request: Request, exc: Exception) -> Response:
        """A refused request as a page (403 forged form, 404 unknown webhook...), never a traceback."""
        assert isinstance(exc, HTTPException)
        return await dash.page(
            request, "problem.html", status=exc.status_code, message=exc.detail, title="Problem"
        )

    async def store_down(request: Request, exc: Exception) -> Response:
        """The store failed mid-request (a sign-in, a webhook save): a page saying so, not a 500."""
        log.warning("dashboard: %s %s: the store is unavailable: %s", request.method, request.url.path, exc)
        session = signed_in(request)
        if session is not None:
            session.flash = ""  # rendering must not write to the store again
        message = "The gateway's store is unavailable: try again shortly."
        return await dash.page(request, "problem.html", status=503, message=message, title="Problem")

    return Starlette(
        routes=[
            Route(PREFIX, home, methods=["GET"]),
            Route(PREFIX + "/", home, methods=["GET"]),
            *auth.routes(dash),
            *webhooks.routes(dash),
            *apis.routes(dash),
            *events.routes(dash),
            *deliveries.routes(dash),
            *preview.routes(dash),
            Mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=[Middleware(auth.Guard, dash=dash)],
        exception_handlers={HTTPException: problem, StoreError: store_down},
    )


__all__ = ["build_dashboard"]
