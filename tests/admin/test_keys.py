"""/tyk/keys against a real store double: Tyk's bodies and statuses, hashing, token events, bad input."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import pytest

from gateway.admin.keys import SECURITY_SETTINGS
from gateway.events.catalog import Event, TokenMeta
from gateway.identity.apply import DIFFERENT_ORG
from gateway.identity.keyhash import hash_str
from gateway.identity.policies import Policy, PolicySet
from tests.admin.conftest import Admin, MakeAdmin
from tests.admin.test_apis import classic


def session(**fields: Any) -> dict[str, Any]:
    base = {
        "org_id": "org1",
        "rate": 100,
        "per": 60,
        "quota_max": -1,
        "quota_renewal_rate": 3600,
        "expires": 0,
        "tags": ["not parsed", "but kept"],
        "access_rights": {"api1": {"api_id": "api1", "api_name": "one", "versions": ["Default"]}},
    }
    return {**base, **fields}


RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"


async def stored(admin: Admin) -> dict[str, Any]:
    return {name: json.loads(value) for name, value in (await admin.snapshot()).items()}


async def test_key_lifecycle_without_hashing(admin: Admin) -> None:
    before = int(time.time())
    created = await admin.call("POST", "/tyk/keys", json=session())
    assert created.status_code == 200 and created.headers["content-type"] == "application/json"
    key = created.json()["key"]
    assert created.json() == {"key": key, "status": "ok", "action": "added"}
    assert created.content.endswith(b"\n")
    assert re.fullmatch("org1[0-9a-f]{32}", key)
    saved = (await stored(admin))[f"apikey-{key}"]
    assert saved["tags"] == ["not parsed", "but kept"]
    assert before <= int(saved["last_updated"]) <= time.time()
    assert saved["quota_renews"] == int(saved["last_updated"]) + 3600
    assert re.fullmatch(RFC3339, saved["date_created"])
    assert admin.gw.events == [(Event.TokenCreated, TokenMeta("Key modified.", org="org1", key=key))]

    got = await admin.call("GET", f"/tyk/keys/{key}")
    assert (got.status_code, got.json()) == (200, saved)

    changed = await admin.call("PUT", f"/tyk/keys/{key}", json=session(rate=5, date_created="ignored"))
    assert changed.json() == {"key": key, "status": "ok", "action": "modified"}
    after = (await admin.call("GET", f"/tyk/keys/{key}")).json()
    assert after["rate"] == 5 and after["date_created"] == saved["date_created"]
    assert admin.gw.events[-1] == (Event.TokenUpdated, TokenMeta("Key modified.", org="org1", key=key))

    assert (await admin.call("GET", "/tyk/keys")).json() == {"keys": [key]}
    gone = await admin.call("DELETE", f"/tyk/keys/{key}")
    assert gone.json() == {"key": key, "status": "ok", "action": "deleted"}
    assert admin.gw.events[-1] == (Event.TokenDeleted, TokenMeta("Key deleted.", org="org1", key=key))
    assert (await admin.snapshot()) == {}

    for method, message in (
        ("GET", "Key not found"),
        ("PUT", "Key is not found"),
        ("DELETE", "There is no such key found"),
    ):
        resp = await admin.call(method, f"/tyk/keys/{key}", json=session())
        assert (resp.status_code, resp.json()) == (404, {"status": "error", "message": message})
    assert len(admin.gw.events) == 3


@pytest.mark.parametrize("function", ["", "murmur64", "murmur128", "sha256"])
async def test_hashed_keys_are_stored_and_addressed_by_hash(make_admin: MakeAdmin, function: str) -> None:
    admin = await make_admin(hash_keys=True, hash_key_function=function)
    created = (await admin.call("POST", "/tyk/keys/create", json=session())).json()
    key, digest = created["key"], created["key_hash"]
    assert created == {"key": key, "status": "ok", "action": "added", "key_hash": hash_str(key)}
    assert list(await admin.snapshot()) == [f"apikey-{digest}"]
    assert all(key not in name + value for name, value in (await admin.snapshot()).items())
    assert admin.gw.events == [(Event.TokenCreated, TokenMeta("Key generated.", org="org1", key=key))]

    assert (await admin.call("GET", f"/tyk/keys/{key}")).status_code == 200
    assert (await admin.call("GET", f"/tyk/keys/{digest}", params={"hashed": "1"})).status_code == 200
    listing = await admin.call("GET", "/tyk/keys")
    assert (listing.status_code, listing.json()["message"]) == (
        404,
        "Hashed key listing is disabled in config (enable_hashed_keys_listing)",
    )

    put = await admin.call("PUT", f"/tyk/keys/{digest}", params={"hashed": "1"}, json=session(rate=1))
    assert put.json() == {"key": digest, "status": "ok", "action": "modified"}
    assert admin.gw.events[-1] == (Event.TokenUpdated, TokenMeta("Key modified.", org="org1", key=digest))
    deleted = await admin.call("DELETE", f"/tyk/keys/{digest}", params={"hashed": "1"})
    assert deleted.json() == {"key": digest, "status": "ok", "action": "deleted"}
    assert len(admin.gw.events) == 2  # Tyk fires no TokenDeleted for a delete by hash
    assert (await admin.snapshot()) == {}

    other = (await admin.call("POST", "/tyk/keys", json=session())).json()
    assert other["key_hash"] == hash_str(other["key"]) and other["action"] == "added"


async def test_hashed_listing_when_enabled(make_admin: MakeAdmin) -> None:
    admin = await make_admin(hash_keys=True, enable_hashed_keys_listing=True)
    key = (await admin.call("POST", "/tyk/keys", json=session())).json()["key"]
    assert (await admin.call("GET", "/tyk/keys")).json() == {"keys": [hash_str(key)]}


async def test_by_hash_needs_hashing_on(admin: Admin) -> None:
    resp = await admin.call("GET", "/tyk/keys/abc", params={"hashed": "1"})
    assert (resp.status_code, resp.json()["message"]) == (
        400,
        "Key requested by hash but key hashing is not enabled",
    )


async def test_listing_filters_by_prefix(admin: Admin) -> None:
    a = (await admin.call("POST", "/tyk/keys", json=session(org_id="orgA"))).json()["key"]
    b = (await admin.call("POST", "/tyk/keys", json=session(org_id="orgB"))).json()["key"]
    assert sorted((await admin.call("GET", "/tyk/keys")).json()["keys"]) == sorted([a, b])
    assert (await admin.call("GET", "/tyk/keys", params={"filter": "orgA"})).json() == {"keys": [a]}


BAD_BODIES = [
    b"",
    b"not json",
    b"[1, 2]",
    b"null",
    b"NaN",
    b'{"rate": "fast"}',
    b'{"expires": 1.5}',
    b'{"access_rights": {"api1": 5}}',
    b'{"access_rights": {"a": {"limit": {"per": []}}}}',
    b'{"rate": 1e309}',  # Python reads it as infinity; Go's float64 refuses it
    b'{"expires": 9223372036854775808}',  # past int64
    b'{"quota_max": -9223372036854775809}',
]


@pytest.mark.parametrize("body", BAD_BODIES)
async def test_malformed_bodies_are_refused_and_nothing_is_written(admin: Admin, body: bytes) -> None:
    existing = (await admin.call("POST", "/tyk/keys/existing1", json=session(org_id=""))).json()["key"]
    before, events = (await admin.snapshot()), list(admin.gw.events)
    for method, path in (
        ("POST", "/tyk/keys"),
        ("POST", "/tyk/keys/custom1"),
        ("PUT", f"/tyk/keys/{existing}"),
    ):
        resp = await admin.call(method, path, content=body)
        assert (resp.status_code, resp.json()["status"]) == (400, "error")
        message = resp.json()["message"]
        # Tyk's message; a wrongly typed field is named after it.
        assert message == "Request malformed" or message.startswith("Request malformed: $."), message
    create = await admin.call("POST", "/tyk/keys/create", content=body)
    assert (create.status_code, create.json()["message"]) == (
        500,
        "Unmarshalling failed",
    )  # Tyk's answer here
    assert (await admin.snapshot()) == before and admin.gw.events == events


async def test_master_keys_are_refused_unless_allowed(make_admin: MakeAdmin) -> None:
    admin = await make_admin()
    master = session(access_rights={})
    add = await admin.call("POST", "/tyk/keys", json=master)
    assert (add.status_code, add.json()["message"]) == (
        500,
        "Failed to create key, ensure security settings are correct.",
    )
    create = await admin.call("POST", "/tyk/keys/create", json=master)
    assert (create.status_code, create.json()["message"]) == (
        400,
        "Failed to create key, keys must have at least one Access Rights record set.",
    )
    assert (await admin.snapshot()) == {} and admin.gw.events == []
    allowed = await make_admin(allow_master_keys=True)
    assert (await allowed.call("POST", "/tyk/keys", json=master)).status_code == 200
    assert (await allowed.call("POST", "/tyk/keys/create", json=master)).status_code == 200


async def test_custom_keys(make_admin: MakeAdmin) -> None:
    admin = await make_admin()
    plain = await admin.call("POST", "/tyk/keys/my-own-key", json=session(org_id=""))
    assert plain.json() == {"key": "my-own-key", "status": "ok", "action": "added"}
    assert admin.gw.events[-1] == (Event.TokenCreated, TokenMeta("Key modified.", org="", key="my-own-key"))
    # Tyk prefixes a custom key with its org, and finds it by the short name within that org.
    prefixed = (await admin.call("POST", "/tyk/keys/mine", json=session())).json()["key"]
    assert prefixed == "org1mine"
    assert (await admin.call("GET", "/tyk/keys/mine", params={"org_id": "org1"})).status_code == 200
    short = await admin.call("POST", "/tyk/keys/ab", json=session(org_id=""))
    assert short.status_code == 400 and "at least 3" in short.json()["message"]
    assert set(await admin.snapshot()) == {"apikey-my-own-key", "apikey-org1mine"}


async def test_suppress_reset_keeps_the_quota_period(admin: Admin) -> None:
    key = (await admin.call("POST", "/tyk/keys", json=session(quota_max=10))).json()["key"]
    raw = (await stored(admin))[f"apikey-{key}"]
    await admin.gw.store.set(f"apikey-{key}", json.dumps({**raw, "last_updated": "123", "quota_renews": 456}))
    await admin.gw.store.set(f"quota-{key}", "4")
    kept = await admin.call(
        "PUT", f"/tyk/keys/{key}", params={"suppress_reset": "1"}, json=session(quota_max=10)
    )
    assert kept.status_code == 200
    after = (await stored(admin))[f"apikey-{key}"]
    assert (after["last_updated"], after["quota_renews"]) == ("123", 456)
    assert (await admin.call("GET", f"/tyk/keys/{key}")).json()["quota_remaining"] == 6
    assert (await admin.call("PUT", f"/tyk/keys/{key}", json=session(quota_max=10))).status_code == 200
    after = (await stored(admin))[f"apikey-{key}"]
    assert int(after["last_updated"]) >= int(time.time()) - 5
    assert f"quota-{key}" not in (await admin.snapshot())  # the counter was reset


async def test_a_quota_period_past_the_last_int64_second_ends_there(admin: Admin) -> None:
    # Found by schemathesis: now + a huge quota_renewal_rate passed int64 and every write answered 500.
    huge = session(quota_renewal_rate=2**63 - 2)
    for method, path in (("POST", "/tyk/keys"), ("POST", "/tyk/keys/create"), ("POST", "/tyk/keys/mine1")):
        resp = await admin.call(method, path, json=huge)
        assert resp.status_code == 200, (path, resp.text)
    assert (await admin.call("PUT", "/tyk/keys/mine1", json=huge)).status_code == 200
    assert {s["quota_renews"] for s in (await stored(admin)).values()} == {2**63 - 1}


async def test_delete_across_all_apis_answers_null_without_event(admin: Admin) -> None:
    key = (await admin.call("POST", "/tyk/keys", json=session())).json()["key"]
    resp = await admin.call("DELETE", f"/tyk/keys/{key}", params={"api_id": "-1"})
    assert (resp.status_code, resp.content) == (200, b"null\n")
    assert [e for e, _ in admin.gw.events] == [Event.TokenCreated]
    assert (await admin.snapshot()) == {}


async def test_raw_keys_never_reach_the_log(admin: Admin, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="gateway")
    key = (await admin.call("POST", "/tyk/keys", json=session())).json()["key"]
    await admin.call("PUT", f"/tyk/keys/{key}", json=session(rate="bad"))
    await admin.call("PUT", f"/tyk/keys/{key}", json=session())
    await admin.call("DELETE", f"/tyk/keys/{key}")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("gateway")]
    assert messages and all(key not in m for m in messages)
    assert any(key[-4:] in m for m in messages)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"rate": 1e309}', "$.rate: expected a finite number, got Infinity"),
        (
            b'{"expires": 9223372036854775808}',
            "$.expires: expected an integer (64-bit), got 9223372036854775808",
        ),
        (
            b'{"access_rights": {"a": {"limit": {"per": []}}}}',
            "$.access_rights.a.limit.per: expected a finite number, got []",
        ),
    ],
)
async def test_a_wrongly_typed_field_is_named(admin: Admin, body: bytes, message: str) -> None:
    resp = await admin.call("POST", "/tyk/keys", content=body)
    assert (resp.status_code, resp.json()["message"]) == (400, "Request malformed: " + message)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("apply_policies", "gold", "$.apply_policies: expected a list"),
        ("apply_policies", [1], "$.apply_policies[0]: expected a string"),
        ("tags", [True], "$.tags[0]: expected a string"),
        ("alias", 5, "$.alias: expected a string"),
        ("hmac_enabled", "yes", "$.hmac_enabled: expected a boolean"),
        ("data_expires", 1.5, "$.data_expires: expected an integer"),
        ("allowance", "lots", "$.allowance: expected a finite number"),
        ("basic_auth_data", {"password": 5}, "$.basic_auth_data.password: expected a string"),
        ("jwt_data", [], "$.jwt_data: expected an object"),
        ("oauth_keys", {"a": 1}, "$.oauth_keys.a: expected a string"),
        ("date_created", 0, "$.date_created: expected a string"),
    ],
)
async def test_every_session_field_is_typed_as_tyk_types_it(
    admin: Admin, field: str, value: Any, named: str
) -> None:
    # Tools written in Go read keys back with Tyk's struct: a wrongly typed field would break them.
    resp = await admin.call("POST", "/tyk/keys", json=session(**{field: value}))
    assert resp.status_code == 400 and resp.json()["message"].startswith("Request malformed: " + named)
    assert (await admin.call("GET", "/tyk/keys")).json() == {"keys": []}


async def test_a_new_key_expires_as_its_policys_key_expires_in_says(admin: Admin) -> None:
    """Tyk's trial period: set once, when the key is made, from the last policy that has one."""
    rights = {"a": {"api_id": "a", "api_name": "a", "versions": ["Default"]}}
    admin.gw.sessions.set_policies(
        PolicySet.of(
            Policy.from_json({"id": p, "access_rights": rights, **fields}, "test")
            for p, fields in (
                ("week", {"key_expires_in": 604800, "post_expiry_action": "delete"}),
                ("hour", {"key_expires_in": 3600}),
                ("plain", {}),
            )
        )
    )
    before = int(time.time())

    async def expires(path: str, policies: list[str]) -> int:
        made = await admin.call("POST", path, json={"apply_policies": policies})
        assert made.status_code == 200, made.text
        key = made.json().get("key") or path.rsplit("/", 1)[-1]
        return int((await admin.call("GET", f"/tyk/keys/{key}")).json().get("expires", 0))

    assert before + 604800 <= await expires("/tyk/keys", ["plain", "week"]) <= int(time.time()) + 604800
    assert before + 3600 <= await expires("/tyk/keys/create", ["week", "hour"]) <= int(time.time()) + 3600
    assert await expires("/tyk/keys", ["plain"]) == 0
    assert await expires("/tyk/keys/my-custom-key-1", ["hour"]) > before
    # Posting an existing key again does not start its trial anew.
    again = await admin.call("POST", "/tyk/keys/my-custom-key-1", json={"apply_policies": ["week"]})
    assert again.status_code == 200
    assert (await admin.call("GET", "/tyk/keys/my-custom-key-1")).json().get("expires", 0) == 0


async def test_a_policy_of_another_org_than_an_api_it_grants_is_refused_at_creation(admin: Admin) -> None:
    (admin.app_path / "a.json").write_text(json.dumps(classic("a", "/a/", org_id="org2")))
    await admin.gw.reload()
    rights = {name: {"api_id": name, "api_name": name, "versions": ["Default"]} for name in ("a", "gone")}
    admin.gw.sessions.set_policies(
        PolicySet.of(
            [
                Policy.from_json({"id": "mine", "org_id": "org1", "access_rights": rights}, "t"),
                Policy.from_json(
                    {"id": "unloaded", "org_id": "org1", "access_rights": {"gone": rights["gone"]}}, "t"
                ),
            ]
        )
    )
    before = await admin.snapshot()
    body = {"org_id": "org1", "apply_policies": ["mine"]}
    refused = await admin.call("POST", "/tyk/keys", json=body)
    assert (refused.status_code, refused.json()["message"]) == (500, SECURITY_SETTINGS)
    created = await admin.call("POST", "/tyk/keys/create", json=body)
    assert created.json()["message"] == f"Failed to create key - {DIFFERENT_ORG}"
    assert await admin.snapshot() == before
    # An API that is not loaded is not checked ("storing anyway", as Tyk logs it).
    fine = await admin.call("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": ["unloaded"]})
    assert fine.status_code == 200


@pytest.mark.parametrize("field", ["meta_data", "smoothing", "monitor", "access_rights"])
async def test_an_out_of_range_number_anywhere_is_refused_and_nothing_stored(
    admin: Admin, field: str
) -> None:
    """Found by fuzzing: 1e999 in a free-form field was stored as infinity, then every GET of the key was a
    500. Go's decoder refuses the number; so does the REST API, and a session holding one is unreadable."""
    before = await admin.snapshot()
    inner = {"x": {"y": [1, "1e999"]}} if field == "access_rights" else {"x": "1e999"}
    body = json.dumps(session(**{field: inner})).replace('"1e999"', "1e999")
    refused = await admin.call("POST", "/tyk/keys", content=body)
    assert refused.status_code == 400
    assert (
        refused.json()["message"].startswith("Request malformed: $.")
        and "expected a finite number" in refused.json()["message"]
    )
    assert await admin.snapshot() == before
