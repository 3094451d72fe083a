"""The Dashboard's tests: a real gateway with `dashboard.enabled`, signed in through the login form as a
browser would be (the login page's CSRF cookie, then the session cookie), pages read as HTML text."""

from __future__ import annotations

import re
from typing import Any

import httpx

from gateway.testing import RunningGateway
from gateway.testing.harness import TEST_SECRET

ON: dict[str, Any] = {"dashboard": {"enabled": True}}
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def login_page(client: httpx.AsyncClient) -> str:
    """GET the login form: its CSRF token (the same value rides in the login cookie)."""
    page = await client.get("/dashboard/login")
    assert page.status_code == 200
    return csrf_of(page.text)


async def sign_in(gw: RunningGateway, secret: str = TEST_SECRET) -> str:
    """Sign the gateway's client in; the session's CSRF token for the forms that follow."""
    token = await login_page(gw.client)
    answer = await gw.client.post("/dashboard/login", data={"secret": secret, "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/webhooks", answer.text
    return csrf_of((await gw.client.get("/dashboard/webhooks")).text)


def rows(html: str, attribute: str) -> list[str]:
    """The values of `attribute` on the page's table rows (`data-webhook-id`, `data-event`...)."""
    return re.findall(rf'<tr[^>]* {attribute}="([^"]*)"', html)
