"""Tyk's OAS operations beyond CRUD, on both stores: export (and `mode=public`), import of a plain OpenAPI
document with Tyk's query parameters and messages, PATCH, the versions listing, `/tyk/schema`, and the
`x-tyk-base-api-id` header of a child version."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gateway.apidef.oas_import import BAD_MANUAL_URL, NO_SECURITY, NO_SERVERS
from tests.admin.conftest import Admin
from tests.admin.test_apis import classic, files, message
from tests.e2e.conftest import seed_oas

UPSTREAM = "http://127.0.0.1:9/"


def plain(**extra: Any) -> dict[str, Any]:
    """An OpenAPI document without Tyk's extension, as a user imports it."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "pets", "version": "1"},
        "servers": [{"url": "http://{host}:9/base", "variables": {"host": {"default": "127.0.0.1"}}}],
        "paths": {"/pets": {"get": {"responses": {"200": {"description": "ok"}}}}},
        **extra,
    }


async def loaded_with(admin: Admin, *docs: dict[str, Any]) -> None:
    for doc in docs:
        path = "/tyk/apis/oas" if "x-tyk-api-gateway" in doc else "/tyk/apis"
        assert (await admin.call("POST", path, json=doc)).status_code == 200
    await admin.gw.reload()


async def test_export_one_and_all_with_and_without_tyks_extension(admin: Admin) -> None:
    doc = seed_oas(UPSTREAM, UPSTREAM)
    await loaded_with(admin, doc, classic())
    one = await admin.call("GET", "/tyk/apis/oas/seed-oas/export")
    assert one.status_code == 200 and one.headers["content-type"] == "application/octet-stream"
    assert one.headers["content-disposition"] == 'attachment;filename="TykOasApiDef-seed-oas.json"'
    assert json.loads(one.content) == doc and one.text.startswith('{\n  "')
    bare = await admin.call("GET", "/tyk/apis/oas/seed-oas/export?mode=public")
    assert bare.headers["content-disposition"] == 'attachment;filename="oas-seed-oas.json"'
    assert json.loads(bare.content) == {k: v for k, v in doc.items() if k != "x-tyk-api-gateway"}
    every = await admin.call("GET", "/tyk/apis/oas/export")
    assert every.headers["content-disposition"] == 'attachment;filename="TykOasApiDef.json"'
    assert json.loads(every.content) == [doc]  # the Classic API is not an OAS document
    assert "x-tyk-api-gateway" not in (await admin.call("GET", "/tyk/apis/oas/export?mode=public")).text
    # The issue asks for mode=public on the plain reads too, as swagger.yml documents (Tyk ignores it).
    without = {k: v for k, v in doc.items() if k != "x-tyk-api-gateway"}
    assert (await admin.call("GET", "/tyk/apis/oas/seed-oas?mode=public")).json() == without
    assert (await admin.call("GET", "/tyk/apis/oas?mode=public")).json() == [without]
    assert (await admin.call("GET", "/tyk/apis/oas/seed-oas")).json() == doc
    assert "classic format" in message(await admin.call("GET", "/tyk/apis/oas/fresh/export"))
    missing = await admin.call("GET", "/tyk/apis/oas/nope/export")
    assert (missing.status_code, missing.json()["message"]) == (404, "API not found")


async def test_import_builds_tyks_extension_from_the_document_and_parameters(admin: Admin) -> None:
    done = await admin.call("POST", "/tyk/apis/oas/import?listenPath=/pets/&apiID=pets", json=plain())
    assert done.json() == {"key": "pets", "status": "ok", "action": "added"}
    ext = files(admin)["pets.json"]["x-tyk-api-gateway"]
    assert ext["info"] == {"name": "pets", "id": "pets", "state": {"active": True, "internal": False}}
    assert ext["upstream"] == {"url": "http://127.0.0.1:9/base"}  # servers[0], its variable filled in
    assert ext["server"]["listenPath"] == {"value": "/pets/", "strip": True}
    assert ext["middleware"]["global"]["trafficLogs"] == {"enabled": True}
    await admin.gw.reload()
    assert (await admin.call("GET", "/tyk/apis/oas/pets")).json()["x-tyk-api-gateway"] == ext
    yaml_body = "openapi: 3.0.3\ninfo: {title: y, version: '1'}\npaths: {}\n"
    made = await admin.call(
        "POST", "/tyk/apis/oas/import?upstreamURL=http://127.0.0.1:9&listenPath=/y/", content=yaml_body
    )
    assert made.json()["action"] == "added"  # YAML too, as Tyk's loader reads it; a fresh id


@pytest.mark.parametrize(
    ("query", "doc", "expected"),
    [
        ("", {**plain(), "x-tyk-api-gateway": {}}, "the import payload should not contain x-tyk-api-gateway"),
        ("", {**plain(), "paths": None}, "paths: Invalid type. Expected: object, given: null"),
        ("", {k: v for k, v in plain().items() if k != "info"}, "(root): info is required"),
        ("", plain(servers=[]), NO_SERVERS),
        ("?upstreamURL=upstream.example.com", plain(), BAD_MANUAL_URL),
        ("?upstreamURL=http://%5B", plain(), BAD_MANUAL_URL),  # urllib raised on it: a 500
        ("", plain(servers=[{"url": "http://["}]), 'Please update "http://[" to be a valid URL'),
        ("?authentication=true", plain(), NO_SECURITY),
        ("", plain(servers=[{"url": "http://{h}/"}]), "server URL contains undefined variables"),
        ("", plain(servers=[{"url": "/relative"}]), 'Please update "/relative" to be a valid URL'),
        ("?allowList=true", plain(), "$.x-tyk-api-gateway.middleware.operations.petsGET.allow"),
    ],
)
async def test_import_refusals_write_nothing(admin: Admin, query: str, doc: Any, expected: str) -> None:
    assert expected in message(await admin.call("POST", f"/tyk/apis/oas/import{query}", json=doc))
    assert files(admin) == {}


async def test_import_with_authentication_turns_on_the_documents_schemes(admin: Admin) -> None:
    doc = plain(
        security=[{"key": []}],
        components={"securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Key"}}},
    )
    done = await admin.call("POST", "/tyk/apis/oas/import?authentication=true&apiID=locked", json=doc)
    assert done.status_code == 200
    auth = files(admin)["locked.json"]["x-tyk-api-gateway"]["server"]["authentication"]
    assert auth == {"enabled": True, "securitySchemes": {"key": {"enabled": True}}}
    await admin.gw.reload()
    spec = admin.gw.loaded[0]
    assert spec.auth is not None and spec.auth.header_name == "X-Key"


async def test_patch_replaces_merges_and_refuses_as_tyk_does(admin: Admin) -> None:
    doc = seed_oas(UPSTREAM, UPSTREAM)
    await loaded_with(admin, doc, classic())
    renamed = copy.deepcopy(doc)
    renamed["x-tyk-api-gateway"]["info"]["name"] = "renamed"
    whole = await admin.call("PATCH", "/tyk/apis/oas/seed-oas", json=renamed)
    assert whole.json() == {"key": "seed-oas", "status": "ok", "action": "modified"}
    assert files(admin)["seed-oas.json"] == renamed  # a whole definition and no parameters: a PUT
    await admin.gw.reload()
    # Only the OpenAPI part sent: Tyk's extension is kept; parameters change it.
    retitled = {**plain(), "info": {"title": "new title", "version": "2"}}
    del retitled["servers"]
    merged = await admin.call(
        "PATCH", "/tyk/apis/oas/seed-oas?upstreamURL=http://127.0.0.1:8/", json=retitled
    )
    assert merged.json()["action"] == "modified"
    written = files(admin)["seed-oas.json"]
    assert written["info"]["title"] == "new title" and written["paths"] == retitled["paths"]
    assert written["x-tyk-api-gateway"]["info"]["name"] == "renamed"
    assert written["x-tyk-api-gateway"]["upstream"]["url"] == "http://127.0.0.1:8/"
    assert (
        written["x-tyk-api-gateway"]["server"]["listenPath"]
        == doc["x-tyk-api-gateway"]["server"]["listenPath"]
    )
    for path, body, status, text in (
        ("/tyk/apis/oas/%20", plain(), 400, "Must specify an apiID to patch"),
        ("/tyk/apis/oas/nope", plain(), 404, "API not found"),
        ("/tyk/apis/oas/fresh", plain(), 400, "the supplied API definition is in OAS format"),
        ("/tyk/apis/oas/seed-oas", "oas-body", 400, "request malformed"),
        (
            "/tyk/apis/oas/seed-oas?upstreamURL=new-upstream.org",
            retitled,
            400,
            "manually configured upstream",
        ),
    ):
        resp = await admin.call("PATCH", path, json=body)
        assert resp.status_code == status and text in resp.json()["message"], (path, resp.text)
    assert files(admin)["seed-oas.json"] == written


def versioned() -> list[dict[str, Any]]:
    base = classic("base", "/base/")
    base["definition"] = {
        "enabled": True,
        "name": "base-version",
        "default": "v2",
        "location": "header",
        "key": "x-api-version",
        "versions": {"v1": "v1-api", "v2": "v2-api", "v9": "never-loaded"},
    }
    return [base, classic("v1-api", "/v1/", expiration="2031-01-01 00:00"), classic("v2-api", "/v2/")]


async def test_versions_list_the_base_then_its_children_by_name(admin: Admin) -> None:
    await loaded_with(admin, *versioned())
    for path in ("/tyk/apis/base/versions", "/tyk/apis/oas/base/versions"):
        body = (await admin.call("GET", path)).json()
        assert body["status"] == "success"
        assert [(a["id"], a["versionName"], a["isDefaultVersion"]) for a in body["apis"]] == [
            ("base", "base-version", False),
            ("v1-api", "v1", False),
            ("v2-api", "v2", True),
        ]
        assert body["apis"][1] == {
            "id": "v1-api",
            "name": "v1-api",
            "versionName": "v1",
            "internal": False,
            "expirationDate": "2031-01-01 00:00",
            "isDefaultVersion": False,
        }
    searched = (await admin.call("GET", "/tyk/apis/base/versions?searchText=V1")).json()["apis"]
    assert [a["id"] for a in searched] == ["v1-api"]
    internal = await admin.call("GET", "/tyk/apis/base/versions?accessType=internal")
    assert internal.json() == {"status": "success", "apis": None}
    assert (await admin.call("GET", "/tyk/apis/nope/versions")).status_code == 404
    # A child version says which API it belongs to, on both reads.
    child = await admin.call("GET", "/tyk/apis/v1-api")
    assert child.headers["x-tyk-base-api-id"] == "base"
    assert "x-tyk-base-api-id" not in (await admin.call("GET", "/tyk/apis/base")).headers


async def test_schema_for_each_oas_version_and_tyks_refusals(admin: Admin) -> None:
    plain_default = (await admin.call("GET", "/tyk/schema")).json()
    assert plain_default["status"] == "Success" and plain_default["message"] == ""
    assert "definitions" in plain_default["schema"]
    three_one = (await admin.call("GET", "/tyk/schema?oasVersion=3.1.0")).json()["schema"]
    assert "$defs" in three_one and "#/definitions/" not in json.dumps(three_one)
    assert (await admin.call("GET", "/tyk/schema?oasVersion=3.0.3")).json()["schema"] == plain_default[
        "schema"
    ]
    old = await admin.call("GET", "/tyk/schema?oasVersion=2.0.3")
    assert (old.status_code, old.json()) == (
        404,
        {"status": "Failed", "message": 'Schema not found for version "2.0.3"'},
    )
    bad = await admin.call("GET", "/tyk/schema?oasVersion=abc")
    assert (bad.status_code, bad.json()["message"]) == (404, "Malformed version: abc")


def test_the_schema_accepts_the_gateways_own_oas_definitions() -> None:
    """The served schema says what the parser takes: the seed API validates, a broken one does not."""
    jsonschema = pytest.importorskip("jsonschema_rs")
    from gateway.admin.schema import schema

    validator = jsonschema.validator_for(schema("3.0"))
    doc = seed_oas(UPSTREAM, UPSTREAM)
    assert validator.is_valid(doc)
    broken = copy.deepcopy(doc)
    broken["x-tyk-api-gateway"]["server"]["listenPath"]["value"] = 5
    assert not validator.is_valid(broken)
