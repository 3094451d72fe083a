"""Signing in to the Dashboard: the secret on a form (CSRF-checked), the cookie's flags, the failed-login
limit, every page closed without a session, sign-out, and the tyk.conf key (off by default, checked)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from gateway.dashboard import build_dashboard
from gateway.dashboard.sessions import FAILURES_ALLOWED
from gateway.errors import ConfigError, StoreError
from gateway.testing import run_gateway
from gateway.testing.harness import TEST_SECRET
from tests.conftest import RedisServer
from tests.dashboard.conftest import ON, csrf_of, login_page, sign_in

PAGES = [
    "/dashboard/",
    "/dashboard",
    "/dashboard/webhooks",
    "/dashboard/webhooks/new",
    "/dashboard/webhooks/some-id",
    "/dashboard/apis",
    "/dashboard/apis/some-api",
    "/dashboard/events",
    "/dashboard/events/stream",
    "/dashboard/deliveries",
    "/dashboard/preview",
    "/dashboard/no-such-page",
]
POSTS = [
    "/dashboard/logout",
    "/dashboard/webhooks/new",
    "/dashboard/webhooks/x",
    "/dashboard/webhooks/x/delete",
    "/dashboard/webhooks/x/test",
    "/dashboard/apis/a/handlers/attach",
    "/dashboard/apis/a/handlers/detach",
    "/dashboard/deliveries/d/resend",
    "/dashboard/deliveries/resend",
    "/dashboard/preview",
]


async def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        token = await login_page(gw.client)
        wrong = await gw.client.post("/dashboard/login", data={"secret": "nope", "csrf_token": token})
        assert wrong.status_code == 401 and 'id="login-error"' in wrong.text
        assert "tyk_dashboard=" not in wrong.headers.get("set-cookie", "")
        right = await gw.client.post("/dashboard/login", data={"secret": TEST_SECRET, "csrf_token": token})
        assert right.status_code == 303 and right.headers["location"] == "/dashboard/webhooks"
        cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("tyk_dashboard="))
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert {"httponly", "samesite=strict", "path=/dashboard"} <= set(flags)
        assert "secure" not in flags  # a plain-HTTP listener: a Secure cookie would never come back
        assert TEST_SECRET not in cookie

        home = await gw.client.get("/dashboard/")
        assert home.status_code == 303 and home.headers["location"] == "/dashboard/webhooks"
        page = await gw.client.get("/dashboard/webhooks")
        assert page.status_code == 200 and 'lang="en"' in page.text and 'id="sign-out"' in page.text
        for link in ("/dashboard/webhooks", "/dashboard/apis", "/dashboard/events", "/dashboard/deliveries"):
            assert f'href="{link}"' in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]

        forged = await gw.client.post("/dashboard/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 403
        assert (await gw.client.get("/dashboard/webhooks")).status_code == 200  # still signed in
        out = await gw.client.post("/dashboard/logout", data={"csrf_token": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
        gw.client.cookies.set("tyk_dashboard", cookie.split(";")[0].split("=", 1)[1], path="/dashboard")
        after = await gw.client.get("/dashboard/webhooks")  # the old id, sent again: no longer a session
        assert after.status_code == 303 and after.headers["location"] == "/dashboard/login"


async def test_every_page_is_closed_without_a_session(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        for path in PAGES:
            answer = await gw.client.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login", path
        for path in POSTS:
            answer = await gw.client.post(path, data={"csrf_token": "x"})
            assert answer.status_code == 401, path
        gw.client.cookies.set("tyk_dashboard", "made-up", path="/dashboard")
        assert (await gw.client.get("/dashboard/webhooks")).status_code == 303
        # What is open: the login page and the static files.
        assert (await gw.client.get("/dashboard/login")).status_code == 200
        script = await gw.client.get("/dashboard/static/htmx.min.js")
        assert script.status_code == 200 and script.text.startswith("/*! htmx 2.0.11")


async def test_the_login_form_is_csrf_checked(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        await login_page(gw.client)
        for token in ({}, {"csrf_token": "forged"}):
            answer = await gw.client.post("/dashboard/login", data={"secret": TEST_SECRET, **token})
            assert answer.status_code == 403
            assert "tyk_dashboard=" not in answer.headers.get("set-cookie", "")


async def test_failed_sign_ins_are_limited_per_address(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        token = await login_page(gw.client)
        for _ in range(FAILURES_ALLOWED):
            wrong = await gw.client.post("/dashboard/login", data={"secret": "guess", "csrf_token": token})
            assert wrong.status_code == 401
        for secret in ("guess", TEST_SECRET):  # limited: even the right secret waits for the minute
            limited = await gw.client.post("/dashboard/login", data={"secret": secret, "csrf_token": token})
            assert limited.status_code == 429 and 'id="login-error"' in limited.text


async def test_the_cookie_is_secure_on_a_tls_listener(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        app = build_dashboard(gw.gateway, secure=True)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://gw") as client:
            token = await login_page(client)
            answer = await client.post("/dashboard/login", data={"secret": TEST_SECRET, "csrf_token": token})
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("tyk_dashboard="))
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


async def test_off_by_default_and_a_wrong_value_stops_the_start(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, http=False) as gw:
        assert (await gw.client.get("/dashboard/login")).status_code == 404  # an ordinary path: no API
    with pytest.raises(ConfigError, match=r'key "dashboard\.enabled"'):
        async with run_gateway(tmp_path, config={"dashboard": {"enabled": "yes"}}, http=False):
            pass


async def test_an_empty_secret_signs_nobody_in(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config={**ON, "secret": ""}, http=False) as gw:
        token = await login_page(gw.client)
        answer = await gw.client.post("/dashboard/login", data={"secret": "", "csrf_token": token})
        assert answer.status_code == 401
        with pytest.raises(AssertionError):
            await sign_in(gw, "")


async def test_two_gateways_on_one_redis_share_sign_ins_and_the_failure_limit(
    tmp_path: Path, redis_server: RedisServer, redis_flush: RedisServer
) -> None:
    """As `--workers` processes do: a sign-in on one is known to the other, and failures add up."""
    config = {**ON, "storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port}}
    async with (
        run_gateway(tmp_path / "one", config=config, http=False) as one,
        run_gateway(tmp_path / "two", config=config, http=False) as two,
    ):
        csrf = await sign_in(one)
        two.client.cookies.update(one.client.cookies)
        page = await two.client.get("/dashboard/webhooks")
        assert page.status_code == 200 and csrf_of(page.text) == csrf
        keys = await one.gateway.store.keys("dashboard-session-")
        assert len(keys) == 1 and one.client.cookies["tyk_dashboard"] not in keys[0]  # a hash, not the id

        one.client.cookies.clear()
        two.client.cookies.clear()
        for gw in (one, two, one, two, one):
            token = await login_page(gw.client)
            wrong = await gw.client.post("/dashboard/login", data={"secret": "guess", "csrf_token": token})
            assert wrong.status_code == 401
        token = await login_page(two.client)
        limited = await two.client.post("/dashboard/login", data={"secret": TEST_SECRET, "csrf_token": token})
        assert limited.status_code == 429


async def test_a_sign_in_expires(tmp_path: Path) -> None:
    config = {"dashboard": {"enabled": True, "session_timeout": 0.3}}
    async with run_gateway(tmp_path, config=config, http=False) as gw:
        await sign_in(gw)
        await asyncio.sleep(0.4)  # past the sign-in's lifetime (no condition to poll: time is the point)
        after = await gw.client.get("/dashboard/webhooks")
        assert after.status_code == 303 and after.headers["location"] == "/dashboard/login"


async def test_a_store_outage_is_answered_503_never_let_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        await sign_in(gw)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=gw.gateway), base_url="http://gw"
        ) as other:
            token = await login_page(other)

        async def down(*args: object, **kwargs: object) -> None:
            raise StoreError("the store is down")

        monkeypatch.setattr(gw.gateway.parts.store, "get", down)
        assert (await gw.client.get("/dashboard/webhooks")).status_code == 503
        gw.client.cookies.clear()
        gw.client.cookies.set("tyk_dashboard_login", token, path="/dashboard/login")
        login = await gw.client.post("/dashboard/login", data={"secret": TEST_SECRET, "csrf_token": token})
        assert login.status_code == 503 and "tyk_dashboard=" not in login.headers.get("set-cookie", "")
