"""What every Dashboard page shares: the jinja2 templates (package data, autoescaped), the signed-in
session a request carries, the CSRF check on every POST form, flash messages and redirects.

It renders and checks; it holds no page's logic, and reaches the store only through sessions.py.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jinja2
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from gateway.admin.deps import AdminGateway
from gateway.dashboard.sessions import FailedLogins, Session, Sessions

PREFIX = "/dashboard"
COOKIE = "tyk_dashboard"
CSRF_FIELD = "csrf_token"
MAX_FORM = 64 * 1024  # a webhook's fields, not a file upload
FORGED = "The form's CSRF token is missing or wrong: reload the page and try again."

_TEMPLATES = Path(__file__).resolve().parent / "templates"


class Dash:
    """The Dashboard's state: the gateway it steers, its sign-ins, and the templates."""

    def __init__(self, gw: AdminGateway, secure: bool) -> None:
        self.gw = gw
        self.secure = secure  # the listener is TLS: the cookie is Secure
        self.sessions = Sessions(lambda: gw.store, gw.config.dashboard.session_timeout)
        self.logins = FailedLogins(lambda: gw.store)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(_TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,  # a misspelt name fails the test, not the page silently
            trim_blocks=True,
            lstrip_blocks=True,
        )

    async def page(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A full page; a signed-in one gets the nav, the session's CSRF token and its pending flash."""
        session = signed_in(request)
        flash = ""
        if session is not None and session.flash:
            flash, session.flash = session.flash, ""
            await self.sessions.save(session)  # shown once
        html = self.env.get_template(name).render(
            prefix=PREFIX,
            csrf=values.pop("csrf", "") or (session.csrf if session is not None else ""),
            signed_in=session is not None,
            flash=values.pop("flash", "") or flash,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    def fragment(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A piece of a page for an htmx swap (no nav, no layout)."""
        return HTMLResponse(self.env.get_template(name).render(prefix=PREFIX, **values), status_code=status)


def signed_in(request: Request) -> Session | None:
    """The session the guard (dashboard/auth.py) found for this request; None on the login page."""
    found = request.scope.get("state", {}).get("session")
    return found if isinstance(found, Session) else None


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches the session's (constant time); 403 otherwise, before
    any page acts on it."""
    session = signed_in(request)
    form = await read_form(request)
    given = form.get(CSRF_FIELD)
    if session is None or not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
        raise HTTPException(403, FORGED)
    return form


async def read_form(request: Request) -> FormData:
    """An urlencoded form (what browsers and htmx send here), at most MAX_FORM bytes; parsed here
    because Starlette's parser needs python-multipart, which the gateway does not install."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise HTTPException(415, "expected an application/x-www-form-urlencoded form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise HTTPException(413, "the form is too large")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the form could not be read") from None
    return FormData(list[tuple[str, str | UploadFile]](pairs))


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


async def back_to(dash: Dash, request: Request, path: str, flash: str = "") -> RedirectResponse:
    """303 to another Dashboard page (POST-redirect-GET), with a message shown there once."""
    session = signed_in(request)
    if session is not None and flash:
        session.flash = flash
        await dash.sessions.save(session)
    return RedirectResponse(PREFIX + path, status_code=303)
