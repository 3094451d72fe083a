"""Session parsing (types checked, JSON kept) and SessionStore naming, hashing and persistence on
every store backend."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.identity.keyhash import hash_str
from gateway.identity.limits import Limit
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from gateway.store.base import Store
from gateway.store.memory import MemoryStore

FULL: dict[str, Any] = {
    "org_id": "org1",
    "rate": 10,
    "per": 60.5,
    "expires": -1,
    "is_inactive": False,
    "quota_max": 100,
    "quota_remaining": 40,
    "quota_renews": 1700000000,
    "quota_renewal_rate": 3600,
    "meta_data": {"user": "ann"},
    "last_updated": "1700000000",
    "tags": ["kept", "as given"],
    "access_rights": {
        "api1": {
            "api_id": "api1",
            "api_name": "One",
            "versions": ["Default"],
            "allowed_urls": [{"url": "/x", "methods": ["GET"]}],
            "limit": {"rate": 5, "per": 1, "quota_max": 7},
        },
        "api2": {"api_id": "api2", "versions": [], "limit": {"rate": 0, "per": 0}},
        "api3": {"api_id": "api3", "limit": None},
    },
}


def test_parses_the_fields_and_keeps_the_json() -> None:
    s = Session.from_json(FULL, "body")
    assert (s.org_id, s.rate, s.per, s.expires, s.quota_max, s.quota_renewal_rate) == (
        "org1",
        10.0,
        60.5,
        -1,
        100,
        3600,
    )
    assert s.meta_data == {"user": "ann"} and s.last_updated == "1700000000"
    right = s.access_rights["api1"]
    assert (right.api_name, right.versions, right.allowed_urls) == (
        "One",
        ("Default",),
        ({"url": "/x", "methods": ["GET"]},),
    )
    assert right.limit == Limit(rate=5, per=1, quota_max=7)
    assert s.access_rights["api2"].limit is None  # all-zero: Tyk's empty limit
    assert s.access_rights["api3"].limit is None
    assert s.to_json() == FULL  # unknown fields (tags) included


def test_nulls_read_as_zero_values_like_gos_decoder() -> None:
    s = Session.from_json({"rate": None, "meta_data": None, "access_rights": None, "org_id": None}, "b")
    assert (s.rate, s.meta_data, s.access_rights, s.org_id) == (0.0, {}, {}, "")


@pytest.mark.parametrize(
    ("body", "path", "shown"),
    [
        ({"rate": "ten"}, "$.rate", '"ten"'),
        ({"rate": True}, "$.rate", "true"),
        ({"expires": 1.5}, "$.expires", "1.5"),
        ({"quota_max": "5"}, "$.quota_max", '"5"'),
        ({"is_inactive": 1}, "$.is_inactive", "1"),
        ({"org_id": 7}, "$.org_id", "7"),
        ({"meta_data": []}, "$.meta_data", "[]"),
        ({"last_updated": 17}, "$.last_updated", "17"),
        ({"access_rights": []}, "$.access_rights", "[]"),
        ({"access_rights": {"a": 3}}, "$.access_rights.a", "3"),
        ({"access_rights": {"a": {"versions": "v1"}}}, "$.access_rights.a.versions", '"v1"'),
        ({"access_rights": {"a": {"versions": [1]}}}, "$.access_rights.a.versions[0]", "1"),
        ({"access_rights": {"a": {"limit": {"per": "x"}}}}, "$.access_rights.a.limit.per", '"x"'),
        ({"access_rights": {"a": {"limit": {"quota_max": 2.5}}}}, "$.access_rights.a.limit.quota_max", "2.5"),
    ],
)
def test_a_wrong_type_names_the_field_and_the_value(body: dict[str, Any], path: str, shown: str) -> None:
    with pytest.raises(ConfigError) as err:
        Session.from_json(body, "request body")
    assert err.value.where == "request body"
    assert err.value.reason.startswith(path + ":") and err.value.reason.endswith("got " + shown)


def test_a_non_object_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\$: expected a session object, got \[1\]"):
        Session.from_json([1], "body")


def test_limit_for_prefers_a_non_empty_per_api_limit() -> None:
    s = Session.from_json(FULL, "b")
    assert s.limit_for("api1") == (5.0, 1.0)
    assert s.limit_for("api2") == (10.0, 60.5)  # empty limit: the session's own
    assert s.limit_for("unknown") == (10.0, 60.5)


def test_with_updates_reparses_and_leaves_the_original_alone() -> None:
    s = Session.from_json(FULL, "b")
    t = s.with_updates(rate=1, extra="x")
    assert (t.rate, t.raw["extra"], s.rate, "extra" in s.raw) == (1.0, "x", 10.0, False)
    with pytest.raises(ConfigError, match="rate"):
        s.with_updates(rate="fast")
    copy = s.to_json()
    copy["meta_data"]["user"] = "bob"
    assert s.meta_data["user"] == "ann"


def sessions(store: Store, hash_keys: bool, function: str = "", minimum: int = 3) -> SessionStore:
    return SessionStore(store, hash_keys=hash_keys, hash_function=function, min_token_length=minimum)


async def contents(store: Store) -> dict[str, str]:
    found = {name: await store.get(name) for name in await store.keys("")}
    return {name: value for name, value in found.items() if value is not None}


async def test_unhashed_keys_are_stored_under_apikey_plus_the_key(store: Store) -> None:
    ss = sessions(store, hash_keys=False)
    key = ss.generate_key("org1")
    assert re.fullmatch("org1[0-9a-f]{32}", key)
    await ss.save(key, Session.from_json(FULL, "b"))
    assert list(await contents(store)) == [f"apikey-{key}"]
    assert json.loads((await contents(store))[f"apikey-{key}"]) == FULL
    assert (await ss.get(key)) == Session.from_json(FULL, "b")
    assert await ss.list_keys() == [key]
    assert await ss.delete(key) and not await ss.delete(key)
    assert await ss.get(key) is None


@pytest.mark.parametrize("function", ["", "murmur64", "murmur128", "sha256"])
async def test_hashed_keys_never_reach_the_store_raw(store: Store, function: str) -> None:
    ss = sessions(store, hash_keys=True, function=function)
    key = ss.generate_key("org1")
    if function:
        assert json.loads(base64.b64decode(key))["h"] == function
    await ss.save(key, Session.from_json({"org_id": "org1"}, "b"))
    ((name, value),) = (await contents(store)).items()
    assert name == "apikey-" + hash_str(key) == ss.storage_key(key)
    assert key not in name and key not in value
    assert (await ss.get(key)) is not None
    assert (await ss.get_by_hash(hash_str(key))) is not None
    assert await ss.list_keys() == [hash_str(key)]
    assert await ss.delete(hash_str(key), hashed=True)
    assert not await contents(store)


class CountingStore(MemoryStore):
    """The embedded store, counting reads: proves a lookup never reached the store."""

    reads = 0

    async def get(self, key: str) -> str | None:
        self.reads += 1
        return await super().get(key)


async def test_keys_shorter_than_min_token_length_never_touch_the_store(tmp_path: Path) -> None:
    store = CountingStore(tmp_path)
    try:
        await store.set("apikey-abcd", json.dumps({"rate": 1}))
        assert await sessions(store, hash_keys=False, minimum=5).get("abcd") is None
        assert store.reads == 0
        assert (await sessions(store, hash_keys=False, minimum=4).get("abcd")) is not None
        assert store.reads == 1
    finally:
        await store.close()


async def test_custom_keys_follow_tyks_naming_and_lookup(store: Store) -> None:
    ss = sessions(store, hash_keys=False)
    assert ss.custom_key("org1", "mykey") == "org1mykey"
    assert ss.custom_key("org1", "org1mykey") == "org1mykey"
    await ss.save("org1mykey", Session.from_json({"org_id": "org1"}, "b"))
    assert await ss.get("mykey") is None  # exact lookup
    found = await ss.find("mykey", "org1")  # Tyk's SessionDetail also tries the org's format
    assert found is not None and found[0] == "org1mykey"
    wrapped = sessions(store, hash_keys=True, function="sha256")
    token = wrapped.custom_key("org1", "mine")
    assert json.loads(base64.b64decode(token)) == {"org": "org1", "id": "mine", "h": "sha256"}


async def test_session_lifetime_becomes_the_ttl(store: Store) -> None:
    ss = sessions(store, hash_keys=False)
    await ss.save("k-forever", Session.from_json({}, "b"))
    await ss.save("k-brief", Session.from_json({"session_lifetime": 1}, "b"))
    # Past what a store can count (Redis refused it, a 500): kept without expiry.
    await ss.save("k-aeons", Session.from_json({"session_lifetime": 2**63 - 1}, "b"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while await ss.get("k-brief") is not None and loop.time() < deadline:
        await asyncio.sleep(0.05)  # bounded poll until the one-second lifetime has run out
    assert await ss.get("k-brief") is None
    assert await ss.get("k-forever") is not None and await ss.get("k-aeons") is not None


async def test_quota_counters(store: Store) -> None:
    ss = sessions(store, hash_keys=True)
    key = ss.generate_key("o")
    session = Session.from_json({"access_rights": {"a": {"api_id": "a", "allowance_scope": "s1"}}}, "b")
    assert await ss.used_quota(key) is None
    await store.incr("quota-" + hash_str(key))
    await store.incr("quota-s1-" + hash_str(key))
    assert await ss.used_quota(key) == 1
    await ss.reset_quota(key, session)
    assert await ss.used_quota(key) is None and not await contents(store)


async def test_an_unreadable_stored_session_is_absent_and_logged_redacted(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    ss = sessions(store, hash_keys=False)
    await store.set("apikey-secretkey1234", '{"rate": "oops"}')
    await store.set("apikey-secretkey5678", "not json")
    caplog.set_level(logging.WARNING, logger="gateway")
    assert await ss.get("secretkey1234") is None
    assert await ss.get("secretkey5678") is None
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("gateway"))
    assert "****1234" in ours and "****5678" in ours and "$.rate" in ours
    assert "secretkey" not in ours


async def test_a_session_is_parsed_again_only_when_its_stored_text_changes(store: Store) -> None:
    kept = sessions(store, hash_keys=False)
    await kept.save("key-one", Session.from_json({"org_id": "o", "rate": 5, "per": 1}, "t"))
    first, again = await kept.get("key-one"), await kept.get("key-one")
    assert first is not None and first is again  # the same text: the parsed session is reused
    # A change written by anyone (here straight into the store, as another gateway would) is seen at once.
    await store.set("apikey-key-one", json.dumps({"org_id": "o", "rate": 7, "per": 1}))
    changed = await kept.get("key-one")
    assert changed is not None and changed.rate == 7


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"meta_data": {"x": float("inf")}}, "$.meta_data.x"),
        (
            {"access_rights": {"a": {"limit": {"extra": [1, float("nan")]}}}},
            "$.access_rights.a.limit.extra[1]",
        ),
    ],
)
def test_a_non_finite_number_in_any_field_is_refused(raw: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(path) + ": expected a finite number"):
        Session.from_json(raw, "stored")
