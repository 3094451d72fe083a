"""/tyk/apis: validated definitions written atomically to app_path, served after a reload; bad ones and
ids that are not file names write nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import Admin
from tests.e2e.conftest import seed_oas

UPSTREAM = "http://127.0.0.1:9/"


def classic(api_id: str = "fresh", listen: str = "/fresh/", **extra: Any) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": UPSTREAM, "strip_listen_path": True},
        "custom_field": {"kept": True},
        **extra,
    }


def files(admin: Admin) -> dict[str, Any]:
    """Every file in app_path (temp files included) with its JSON."""
    return {p.name: json.loads(p.read_text()) for p in sorted(admin.app_path.iterdir())}


def message(resp: Any) -> str:
    assert resp.status_code == 400 and resp.headers["content-type"] == "application/json"
    assert resp.json()["status"] == "error"
    return str(resp.json()["message"])


async def test_a_posted_api_is_written_and_served_after_reload(admin: Admin) -> None:
    posted = await admin.call("POST", "/tyk/apis", json=classic())
    assert posted.json() == {"key": "fresh", "status": "ok", "action": "added"}
    assert files(admin) == {"fresh.json": classic()}
    # Like Tyk: nothing changes until the gateway reloads.
    assert (await admin.call("GET", "/tyk/apis/fresh")).json() == {
        "status": "error",
        "message": "API not found",
    }
    assert (await admin.call("GET", "/tyk/apis")).json() == []
    assert admin.gw.reloads == 0
    await admin.call("GET", "/tyk/reload")
    assert (await admin.call("GET", "/tyk/apis")).json() == [classic()]
    assert (await admin.call("GET", "/tyk/apis/fresh")).json() == classic()


async def test_a_definition_without_id_gets_one(admin: Admin) -> None:
    body = classic()
    del body["api_id"]
    key = (await admin.call("POST", "/tyk/apis", json=body)).json()["key"]
    assert re.fullmatch("[0-9a-f]{32}", key)
    assert files(admin) == {f"{key}.json": {**body, "api_id": key}}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"not json", "Request malformed"),
        (b"[1, 2]", "Request malformed"),
        (json.dumps(classic(proxy={"listen_path": "/x/", "target_url": "not-a-url"})).encode(), "target_url"),
        (json.dumps(classic(use_oauth2=True)).encode(), "use_oauth2"),
        (json.dumps(classic(api_id="../evil")).encode(), "path separators"),
        (json.dumps(classic(api_id="a/b")).encode(), "path separators"),
        (json.dumps(classic(api_id="..")).encode(), "path separators"),
        (json.dumps(seed_oas(UPSTREAM, UPSTREAM)).encode(), "Tyk Classic"),
    ],
)
async def test_a_bad_definition_writes_nothing(admin: Admin, body: bytes, expected: str) -> None:
    resp = await admin.call("POST", "/tyk/apis", content=body)
    assert expected in message(resp)
    assert files(admin) == {} and not list(admin.app_path.parent.glob("*.json"))


async def test_a_listen_path_in_use_is_refused(admin: Admin) -> None:
    await admin.call("POST", "/tyk/apis", json=classic("one", "/same/"))
    await admin.call("GET", "/tyk/reload")
    resp = await admin.call("POST", "/tyk/apis", json=classic("two", "/same/"))
    assert "'/same/'" in message(resp) and "'one'" in message(resp)
    assert list(files(admin)) == ["one.json"]


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
async def test_ids_in_the_path_cannot_escape_app_path(admin: Admin, tmp_path: Path, method: str) -> None:
    victim = tmp_path / "victim.json"
    victim.write_text(json.dumps(classic("victim")))
    for path in ("/tyk/apis/..%2Fvictim", "/tyk/apis/oas/..%2Fvictim", "/tyk/apis/a%5Cb"):
        resp = await admin.call(method, path, json=classic("../victim"))
        assert "path separators" in message(resp)
    assert victim.is_file() and files(admin) == {}


async def test_update_and_delete_use_the_loaded_file(admin: Admin) -> None:
    (admin.app_path / "000-legacy-name.json").write_text(json.dumps(classic("old", "/old/")))
    await admin.gw.reload()
    assert (await admin.call("PUT", "/tyk/apis/nope", json=classic("nope"))).status_code == 404
    mismatch = await admin.call("PUT", "/tyk/apis/old", json=classic("other", "/old/"))
    assert "does not match" in message(mismatch)
    broken = await admin.call("PUT", "/tyk/apis/old", json={"api_id": "old", "proxy": {}})
    assert "listen_path" in message(broken) or "target_url" in message(broken)
    assert files(admin) == {"000-legacy-name.json": classic("old", "/old/")}

    updated = await admin.call("PUT", "/tyk/apis/old", json=classic("old", "/renamed/"))
    assert updated.json() == {"key": "old", "status": "ok", "action": "modified"}
    assert files(admin) == {"000-legacy-name.json": classic("old", "/renamed/")}

    deleted = await admin.call("DELETE", "/tyk/apis/old")
    assert deleted.json() == {"key": "old", "status": "ok", "action": "deleted"}
    assert files(admin) == {}
    again = await admin.call("DELETE", "/tyk/apis/old")  # still loaded until a reload, file gone
    assert (again.status_code, again.json()["message"]) == (500, "Delete failed")
    await admin.gw.reload()
    assert (await admin.call("DELETE", "/tyk/apis/old")).status_code == 404


async def test_oas_definitions(admin: Admin) -> None:
    doc = seed_oas(UPSTREAM, UPSTREAM)
    posted = await admin.call("POST", "/tyk/apis/oas", json=doc)
    assert posted.json() == {"key": "seed-oas", "status": "ok", "action": "added"}
    assert files(admin) == {"seed-oas.json": doc}
    assert "x-tyk-api-gateway" in message(await admin.call("POST", "/tyk/apis/oas", json=classic()))
    await admin.call("POST", "/tyk/apis", json=classic())
    await admin.gw.reload()
    assert (await admin.call("GET", "/tyk/apis/oas")).json() == [doc]
    listed = {api["api_id"]: api for api in (await admin.call("GET", "/tyk/apis")).json()}
    assert listed["fresh"] == classic()
    # As in Tyk, an OAS API is listed in its Classic form: marked, without its OpenAPI content.
    assert listed["seed-oas"]["is_oas"] is True and "info" not in listed["seed-oas"]
    assert (await admin.call("GET", "/tyk/apis/seed-oas")).json() == listed["seed-oas"]
    assert (await admin.call("GET", "/tyk/apis/oas/seed-oas")).json() == doc
    assert "classic format" in message(await admin.call("GET", "/tyk/apis/oas/fresh"))
    assert "Tyk Classic APIs" in message(await admin.call("PUT", "/tyk/apis/seed-oas", json=doc))
    assert "OAS format" in message(await admin.call("PUT", "/tyk/apis/oas/fresh", json=classic()))
    renamed = json.loads(json.dumps(doc))
    renamed["x-tyk-api-gateway"]["info"]["name"] = "renamed"
    assert (await admin.call("PUT", "/tyk/apis/oas/seed-oas", json=renamed)).json()["action"] == "modified"
    assert files(admin)["seed-oas.json"] == renamed
