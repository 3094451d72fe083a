"""The admin guard: without the exact secret nothing under /tyk/ answers or changes anything."""

from __future__ import annotations

import json
import logging

import pytest

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
