"""Reload, the health check and the admin API's framing of unknown paths and methods."""

from __future__ import annotations

import re

import pytest

from gateway import __version__
from gateway.config.model import StorageConfig
from gateway.store.registry import open_store
from tests.admin.conftest import Admin, MakeAdmin
from tests.conftest import free_port

RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"


@pytest.mark.parametrize("path", ["/tyk/reload", "/tyk/reload/", "/tyk/reload/group"])
async def test_reload_asks_the_gateway_to_reload(admin: Admin, path: str) -> None:
    resp = await admin.call("GET", path)
    assert (resp.status_code, resp.content) == (200, b'{"status":"ok","message":""}\n')
    assert admin.gw.reloads == 1


async def test_hello_reports_the_store_by_the_name_of_the_one_in_use(
    admin: Admin, request: pytest.FixtureRequest
) -> None:
    kind = request.node.callspec.params["store"]  # "embedded" or "redis": Tyk's shape, named truthfully
    resp = await admin.client.get("/hello")
    body = resp.json()
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert (body["status"], body["version"], body["description"]) == ("pass", __version__, "Tyk GW")
    assert list(body["details"]) == [kind]
    check = body["details"][kind]
    assert (check["status"], check["componentType"]) == ("pass", "datastore")
    assert re.fullmatch(RFC3339, check["time"])


async def test_hello_says_fail_with_200_when_the_store_does_not_answer(make_admin: MakeAdmin) -> None:
    # A real Redis client pointed at a port nobody listens on.
    dead = open_store(StorageConfig(type="redis", host="127.0.0.1", port=free_port(), timeout=1.0))
    try:
        admin = await make_admin(store=dead)
        down = await admin.client.get("/hello")
    finally:
        await dead.close()
    assert down.status_code == 200  # Tyk's /hello always answers 200
    assert down.json()["status"] == "fail" and down.json()["details"]["redis"]["status"] == "fail"


async def test_hello_is_get_only_and_follows_its_configured_name(make_admin: MakeAdmin) -> None:
    admin = await make_admin(health_check_endpoint_name="health")
    assert (await admin.client.get("/health")).json()["status"] == "pass"
    post = await admin.client.post("/health")
    assert (post.status_code, post.json()) == (405, {"status": "error", "message": "Method Not Allowed"})
    assert (await admin.client.get("/hello")).status_code == 404


async def test_unknown_paths_and_methods_answer_json(admin: Admin) -> None:
    missing = await admin.call("GET", "/tyk/nothing/here")
    assert (missing.status_code, missing.json()) == (404, {"status": "error", "message": "Not found"})
    assert missing.headers["content-type"] == "application/json"
    wrong = await admin.call("PATCH", "/tyk/keys")
    assert (wrong.status_code, wrong.json()) == (405, {"status": "error", "message": "Method not supported"})


async def test_bodies_are_encoded_as_gos_encoder_does(admin: Admin) -> None:
    resp = await admin.call("POST", "/tyk/keys/a<b>&c", json={"org_id": "", "access_rights": {"x": {}}})
    assert resp.content == b'{"key":"a\\u003cb\\u003e\\u0026c","status":"ok","action":"added"}\n'


async def test_a_lone_surrogate_still_answers_json(admin: Admin) -> None:
    body = b'{"org_id": "", "meta_data": {"odd": "\\ud800"}, "access_rights": {"x": {}}}'
    key = (await admin.call("POST", "/tyk/keys", content=body)).json()["key"]
    got = await admin.call("GET", f"/tyk/keys/{key}")
    assert got.status_code == 200 and b'"odd":"\\ud800"' in got.content


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("GET", "/tyk/mcps", "MCP proxies"),
        ("DELETE", "/tyk/cache/some-api", "Response caching"),
        ("POST", "/tyk/oauth/clients/create", "OAuth 2.0"),
        ("PUT", "/tyk/oauth/clients/api/key/rotate", "OAuth 2.0"),
        ("POST", "/tyk/debug", "The debug endpoint"),
    ],
)
async def test_tyks_operations_not_implemented_answer_501_naming_them(
    admin: Admin, method: str, path: str, what: str
) -> None:
    resp = await admin.call(method, path, json={})
    assert (resp.status_code, resp.json()) == (
        501,
        {"status": "error", "message": f"{what} is not supported by this gateway"},
    )


async def test_the_jwks_cache_purge_answers_as_tyk_for_one_api_or_all(admin: Admin) -> None:
    for path, api_id in (("/tyk/cache/jwks/some-api", "some-api"), ("/tyk/cache/jwks", None)):
        resp = await admin.call("DELETE", path)
        assert (resp.status_code, resp.json()) == (200, {"status": "ok", "message": "cache invalidated"})
        assert admin.gw.jwks_invalidated[-1] == api_id
