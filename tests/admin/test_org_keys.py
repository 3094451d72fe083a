"""/tyk/org/keys on both stores: Tyk's bodies and statuses, `orgkey.<org>` never hashed, the org must
have a loaded API, `?reset_quota=1`, and bad bodies (400, the field named in the log, nothing written).
Also the smoothing and quota checks /tyk/keys shares."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.admin.conftest import Admin, MakeAdmin


def org_api(org_id: str = "org1") -> dict[str, Any]:
    return {
        "api_id": f"api-{org_id}",
        "org_id": org_id,
        "name": "n",
        "use_keyless": True,
        "proxy": {"listen_path": f"/{org_id}/", "target_url": "http://127.0.0.1:1"},
    }


async def with_org(make_admin: MakeAdmin, **config: Any) -> Admin:
    admin = await make_admin(**config)
    (admin.app_path / "api.json").write_text(json.dumps(org_api()))
    await admin.gw.reload()
    return admin


async def test_org_session_lifecycle(make_admin: MakeAdmin) -> None:
    admin = await with_org(make_admin, hash_keys=True)
    body = {"quota_max": 10, "quota_renewal_rate": 60, "rate": 5, "per": 1, "extra": ["kept"]}
    added = await admin.call("POST", "/tyk/org/keys/org1", json=body)
    assert (added.status_code, added.json()) == (200, {"key": "org1", "status": "ok", "action": "added"})
    assert json.loads((await admin.snapshot())["orgkey.org1"]) == body  # raw org id, even with hash_keys

    got = await admin.call("GET", "/tyk/org/keys/org1")
    assert (got.status_code, got.json()) == (200, body)
    listed = await admin.call("GET", "/tyk/org/keys")
    assert listed.json() == {"keys": ["org1"]}

    changed = await admin.call("PUT", "/tyk/org/keys/org1", json={**body, "rate": 7})
    assert changed.json() == {"key": "org1", "status": "ok", "action": "modified"}
    assert (await admin.call("GET", "/tyk/org/keys/org1")).json()["rate"] == 7

    deleted = await admin.call("DELETE", "/tyk/org/keys/org1")
    assert deleted.json() == {"key": "org1", "status": "ok", "action": "deleted"}
    gone = await admin.call("GET", "/tyk/org/keys/org1")
    assert (gone.status_code, gone.json()) == (404, {"status": "error", "message": "Org not found"})
    again = await admin.call("DELETE", "/tyk/org/keys/org1")
    assert (again.status_code, again.json()["message"]) == (400, "Failed to remove the key")
    assert admin.gw.events == []  # Tyk fires no event for org keys


async def test_a_reset_quota_period_past_the_last_int64_second_ends_there(make_admin: MakeAdmin) -> None:
    # Found by schemathesis: now + a huge quota_renewal_rate passed int64 and the write answered 500.
    admin = await with_org(make_admin)
    for method in ("POST", "PUT"):
        resp = await admin.call(
            method, "/tyk/org/keys/org1", params={"reset_quota": "1"}, json={"quota_renewal_rate": 2**63 - 2}
        )
        assert resp.status_code == 200, resp.text
    assert json.loads((await admin.snapshot())["orgkey.org1"])["quota_renews"] == 2**63 - 1


async def test_an_org_without_a_loaded_api_is_not_found(make_admin: MakeAdmin) -> None:
    admin = await with_org(make_admin)
    for method in ("POST", "PUT", "DELETE"):
        resp = await admin.call(method, "/tyk/org/keys/other", json={"rate": 1})
        assert (resp.status_code, resp.json()) == (
            404,
            {"status": "error", "message": "No such organisation found in Active API list"},
        )
    assert (await admin.call("GET", "/tyk/org/keys/other")).status_code == 404
    assert await admin.snapshot() == {}


async def test_reset_quota_only_when_asked(make_admin: MakeAdmin) -> None:
    admin = await with_org(make_admin)
    store = admin.gw.store
    await admin.call("POST", "/tyk/org/keys/org1", json={"quota_max": 5, "quota_renewal_rate": 60})
    await store.incr_window("quota-org1", 60)
    await admin.call("PUT", "/tyk/org/keys/org1", json={"quota_max": 6, "quota_renewal_rate": 60})
    assert await store.get("quota-org1") == "1"  # a plain write keeps the counter (Tyk)
    await admin.call("PUT", "/tyk/org/keys/org1?reset_quota=1", json={"quota_max": 6})
    assert await store.get("quota-org1") is None


BAD_ORG_BODIES = [
    (b'{"quota_max": "ten"}', "$.quota_max"),
    (b'{"rate": "fast"}', "$.rate"),
    (b'{"smoothing": {"enabled": true, "threshold": "x"}}', "$.smoothing.threshold"),
    (b"[]", "expected a JSON object"),
]


@pytest.mark.parametrize(("body", "named"), BAD_ORG_BODIES)
async def test_bad_org_bodies_are_400_and_name_the_field(
    make_admin: MakeAdmin, caplog: pytest.LogCaptureFixture, body: bytes, named: str
) -> None:
    admin = await with_org(make_admin)
    with caplog.at_level(logging.WARNING):
        resp = await admin.call("POST", "/tyk/org/keys/org1", content=body)
    assert (resp.status_code, resp.json()) == (400, {"status": "error", "message": "Request malformed"})
    if named.startswith("$"):
        assert any(named in r.getMessage() for r in caplog.records), caplog.text
    assert await admin.snapshot() == {}


def key_session(**fields: Any) -> dict[str, Any]:
    rights = {"api1": {"api_id": "api1", "versions": ["Default"]}}
    return {"org_id": "org1", "access_rights": rights, **fields}


SMOOTHING = {"enabled": True, "threshold": 1, "trigger": 0.5, "step": 1, "delay": 1}


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"quota_max": "5"}, "$.quota_max"),
        ({"quota_renewal_rate": 1.5}, "$.quota_renewal_rate"),
        ({"smoothing": {**SMOOTHING, "step": 0}}, "$.smoothing.step"),
        ({"smoothing": {**SMOOTHING, "threshold": None}}, "$.smoothing.threshold"),  # was a 500
        ({"smoothing": {**SMOOTHING, "trigger": -1}}, "$.smoothing.trigger"),
        ({"smoothing": {**SMOOTHING, "delay": "1s"}}, "$.smoothing.delay"),
        (
            {
                "access_rights": {
                    "api1": {"api_id": "api1", "limit": {"smoothing": {**SMOOTHING, "threshold": 0}}}
                }
            },
            "$.access_rights.api1.limit.smoothing.threshold",
        ),
    ],
)
async def test_key_bodies_with_bad_quota_or_smoothing_are_400(
    admin: Admin, caplog: pytest.LogCaptureFixture, fields: dict[str, Any], named: str
) -> None:
    with caplog.at_level(logging.WARNING):
        resp = await admin.call("POST", "/tyk/keys", json=key_session(**fields))
    assert resp.status_code == 400
    assert resp.json()["message"].startswith(f"Request malformed: {named}: ")  # Tyk's words, then the field
    assert any(named in r.getMessage() for r in caplog.records), caplog.text
    assert await admin.snapshot() == {}


async def test_negative_quotas_and_a_disabled_smoothing_block_are_accepted(
    admin: Admin, make_admin: MakeAdmin
) -> None:
    body = key_session(quota_max=-1, quota_remaining=-3, quota_renewal_rate=-1, smoothing={"enabled": False})
    resp = await admin.call("POST", "/tyk/keys", json=body)
    assert resp.status_code == 200, resp.text
    nulls = key_session(smoothing=None, access_rights=None)
    resp = await (await make_admin(allow_master_keys=True)).call("POST", "/tyk/keys", json=nulls)
    assert resp.status_code == 200, resp.text
