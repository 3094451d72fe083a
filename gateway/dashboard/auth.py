"""Signing in to the Dashboard: the guard in front of every page, the login form and sign-out.

Nothing under /dashboard/ is served without a session except the login page and the static files: a GET
goes to the login page (303), anything else is answered 401. The cookie is HttpOnly, SameSite=Strict,
Path=/dashboard (Secure on a TLS listener) and holds only a random id. The secret is never logged.
"""

from __future__ import annotations

import hmac
import math
import secrets
from http.cookies import SimpleCookie

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.dashboard.common import (
    COOKIE,
    CSRF_FIELD,
    FORGED,
    PREFIX,
    Dash,
    checked_form,
    read_form,
    signed_in,
    text,
)
from gateway.dashboard.sessions import same_secret
from gateway.errors import StoreError
from gateway.log import get_logger

log = get_logger("dashboard")

OPEN = (PREFIX + "/login", PREFIX + "/static/")
LOGIN_COOKIE = "tyk_dashboard_login"  # the login form's CSRF token, before there is a session
WRONG = "That is not the gateway's secret."
LIMITED = "Too many failed sign-ins from your address: wait a minute and try again."
# Our pages load only our own files: no inline script, no third party, never framed.
HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class Guard:
    """Finds the request's session (for `common.signed_in`) and turns away requests without one."""

    def __init__(self, app: ASGIApp, dash: Dash) -> None:
        self.app = app
        self.dash = dash

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        static = path.startswith(OPEN[1])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [] if static else [(b"cache-control", b"no-store")]
                message["headers"] = [*message.get("headers", []), *HEADERS, *extra]
            await send(message)

        if static:  # the same files for everyone: no session looked up
            await self.app(scope, receive, with_headers)
            return
        try:
            session = await self.dash.sessions.get(_cookie(scope))
        except StoreError as exc:  # signed in or not cannot be told: nothing is served
            log.warning("dashboard: the store is unavailable: %s", exc)
            await PlainTextResponse("The gateway's store is unavailable.", status_code=503)(
                scope, receive, with_headers
            )
            return
        scope.setdefault("state", {})["session"] = session
        if session is None and path != OPEN[0]:
            if scope["method"] in ("GET", "HEAD"):
                response: Response = RedirectResponse(PREFIX + "/login", status_code=303)
            else:
                response = PlainTextResponse("Sign in first.", status_code=401)
            await response(scope, receive, with_headers)
            return
        await self.app(scope, receive, with_headers)


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed Cookie header: no session, as if none were sent
                continue
            if COOKIE in jar:
                return jar[COOKIE].value
    return None


def routes(dash: Dash) -> list[Route]:
    async def login(request: Request) -> Response:
        # The login form's CSRF token is a double-submit: the same random value in a cookie and the form.
        token = request.cookies.get(LOGIN_COOKIE, "")
        if request.method == "GET":
            if signed_in(request) is not None:
                return RedirectResponse(PREFIX + "/webhooks", status_code=303)
            token = secrets.token_urlsafe(32)
            page = await dash.page(request, "login.html", title="Sign in", error="", csrf=token)
            page.set_cookie(
                LOGIN_COOKIE,
                token,
                path=PREFIX + "/login",
                secure=dash.secure,
                httponly=True,
                samesite="strict",
            )
            return page
        address = request.client.host if request.client else ""
        if await dash.logins.blocked(address):
            log.warning("dashboard sign-in refused for %s: too many failures", address)
            return await dash.page(
                request, "login.html", title="Sign in", status=429, error=LIMITED, csrf=token
            )
        form = await read_form(request)
        given_token = form.get(CSRF_FIELD)
        if not token or not isinstance(given_token, str) or not hmac.compare_digest(given_token, token):
            raise HTTPException(403, FORGED)
        if not same_secret(text(form, "secret"), dash.gw.config.secret):
            await dash.logins.failed(address)
            log.warning("dashboard sign-in failed from %s", address)
            return await dash.page(
                request, "login.html", title="Sign in", status=401, error=WRONG, csrf=token
            )
        await dash.logins.succeeded(address)
        held = signed_in(request)
        await dash.sessions.end(held.sid if held is not None else None)  # a fresh id on every sign-in
        sid = (await dash.sessions.start()).sid
        log.info("dashboard sign-in from %s", address)
        response = RedirectResponse(PREFIX + "/webhooks", status_code=303)
        response.delete_cookie(LOGIN_COOKIE, path=PREFIX + "/login", secure=dash.secure, httponly=True)
        response.set_cookie(
            COOKIE,
            sid,
            max_age=math.ceil(dash.gw.config.dashboard.session_timeout),
            path=PREFIX,
            secure=dash.secure,
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(request: Request) -> Response:
        await checked_form(request)
        held = signed_in(request)
        await dash.sessions.end(held.sid if held is not None else None)
        response = RedirectResponse(PREFIX + "/login", status_code=303)
        response.delete_cookie(COOKIE, path=PREFIX, secure=dash.secure, httponly=True, samesite="strict")
        return response

    return [
        Route(PREFIX + "/login", login, methods=["GET", "POST"]),
        Route(PREFIX + "/logout", logout, methods=["POST"]),
    ]
