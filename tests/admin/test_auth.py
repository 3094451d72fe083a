"""The admin guard: without the exact secret nothing under /tyk/ answers or changes anything."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from gateway.testing import run_gateway
from tests.admin.conftest import SECRET, Admin, MakeAdmin

DENIED = {"status": "error", "message": "Attempted administrative access with invalid or missing key!"}
SESSION = {"org_id": "o", "access_rights": {"a": {"api_id": "a"}}}
API = {
    "api_id": "x",
    "use_keyless": True,
    "proxy": {"listen_path": "/x/", "target_url": "http://127.0.0.1:1"},
}

CALLS = [
    ("GET", "/tyk/keys", None),
    ("POST", "/tyk/keys", SESSION),
    ("POST", "/tyk/keys/create", SESSION),
    ("POST", "/tyk/keys/customkey1", SESSION),
    ("PUT", "/tyk/keys/existing-key", SESSION),
    ("GET", "/tyk/keys/existing-key", None),
    ("DELETE", "/tyk/keys/existing-key", None),
    ("GET", "/tyk/apis", None),
    ("POST", "/tyk/apis", API),
    ("POST", "/tyk/apis/oas", API),
    ("DELETE", "/tyk/apis/x", None),
    ("GET", "/tyk/reload", None),
    ("GET", "/tyk/reload/group", None),
    ("GET", "/tyk/no-such-thing", None),
    ("GET", "/tyk", None),
]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-tyk-authorization": "wrong"},
        {"x-tyk-authorization": SECRET[:-1]},
        {"x-tyk-authorization": SECRET + "x"},
        {"authorization": SECRET},
    ],
)
async def test_refused_without_the_exact_secret_and_nothing_changes(
    admin: Admin, headers: dict[str, str]
) -> None:
    await admin.gw.store.set("apikey-existing-key", json.dumps(SESSION))
    before = await admin.snapshot()
    for method, path, body in CALLS:
        resp = await admin.client.request(method, path, json=body, headers=headers)
        assert resp.status_code == 403, (method, path)
        assert resp.json() == DENIED
        assert resp.headers["content-type"] == "application/json"
        assert resp.content.endswith(b"}\n")
    assert (await admin.snapshot()) == before
    assert list(admin.app_path.iterdir()) == []
    assert admin.gw.events == [] and admin.gw.reloads == 0


async def test_the_secret_opens_the_door(admin: Admin) -> None:
    assert (await admin.call("GET", "/tyk/keys")).status_code == 200
    assert (await admin.call("GET", "/tyk/reload")).status_code == 200


async def test_an_empty_secret_refuses_everyone(make_admin: MakeAdmin) -> None:
    admin = await make_admin(secret="")
    for headers in ({}, {"x-tyk-authorization": ""}):
        resp = await admin.client.get("/tyk/keys", headers=headers)
        assert (resp.status_code, resp.json()) == (403, DENIED)


async def test_the_health_check_needs_no_secret(admin: Admin) -> None:
    assert (await admin.client.get("/hello")).status_code == 200


async def test_a_refusal_is_logged_without_the_key(admin: Admin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    await admin.client.delete("/tyk/keys/supersecretkeyvalue9876")
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gateway"))
    assert "****9876" in ours and "supersecret" not in ours


async def test_a_path_with_a_control_character_reaches_no_route(tmp_path: Path) -> None:
    # Starlette's `$` matches before a final newline: /tyk/apis/keyed%0A used to act on "keyed".
    async with run_gateway(tmp_path, apis=[API], http=False) as gw:
        for method in ("GET", "PUT", "DELETE"):
            resp = await gw.admin(method, "/tyk/apis/x%0A", json=API)
            assert (resp.status_code, resp.json()["message"]) == (404, "Not Found"), method
        assert (await gw.admin("GET", "/tyk/keys/a%00b")).status_code == 404
        assert (await gw.admin("GET", "/tyk/apis/x")).status_code == 200
        assert list((tmp_path / "apps").iterdir())  # nothing deleted
