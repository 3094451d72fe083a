"""Tyk's policy merge, case by case from Tyk's own test table (internal/policy/testdata/policies.json and
apply_test.go): missing and foreign policies, partitions, the most generous rate, the highest quota,
tags, inactivity, per_api limits and their counters, and what a key's own figures become."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.identity.apply import DIFFERENT_ORG, MIXED, NO_VALID, PolicyError, apply, policy_ids
from gateway.identity.policies import Policy, PolicySet

A, B = {"a": {}}, {"b": {}}
QUOTA_ACL = {"acl": True, "quota": True}
RATE_ACL = {"acl": True, "rate_limit": True}
FIXTURE: dict[str, dict[str, Any]] = {
    "nonpart1": {"id": "p1", "access_rights": A},
    "nonpart2": {"id": "p2", "access_rights": B},
    "nonpart3": {"id": "p3", "access_rights": {"a": {}, "b": {}}},
    "quota1": {"quota_max": 2, "access_rights": A, "partitions": QUOTA_ACL},
    "quota2": {"quota_max": 3, "access_rights": A, "partitions": QUOTA_ACL},
    "quota4": {"quota_max": 3, "access_rights": B, "partitions": {"quota": True}},
    "quota5": {"quota_max": 4, "access_rights": B, "partitions": QUOTA_ACL},
    "unlimited-quota": {"quota_max": -1, "access_rights": A, "partitions": QUOTA_ACL},
    "rate1": {"rate": 3, "per": 1, "access_rights": A, "partitions": RATE_ACL},
    "rate2": {"rate": 4, "per": 1, "access_rights": A, "partitions": RATE_ACL},
    "rate3": {"rate": 4, "per": 4, "partitions": RATE_ACL},
    "rate4": {"rate": 8, "per": 1, "access_rights": A, "partitions": RATE_ACL},
    "rate5": {"rate": 10, "per": 1, "access_rights": A, "partitions": RATE_ACL},
    "rate-for-a": {"rate": 4, "per": 1, "access_rights": A, "partitions": {"rate_limit": True}},
    "rate-for-b": {"rate": 2, "per": 1, "access_rights": B, "partitions": {"rate_limit": True}},
    "rate-for-a-b": {
        "rate": 4,
        "per": 1,
        "access_rights": {"a": {}, "b": {}},
        "partitions": {"rate_limit": True},
    },
    "acl1": {"access_rights": A, "partitions": {"acl": True}},
    "acl-for-a-b": {"access_rights": {"a": {}, "b": {}}, "partitions": {"acl": True}},
    "rate-no-partition": {"rate": 12, "per": 1, "access_rights": A},
    "tags1": {"tags": ["tagA"], "access_rights": A, "partitions": QUOTA_ACL},
    "tags2": {"tags": ["tagX", "tagY"], "access_rights": A, "partitions": RATE_ACL},
    "inactive1": {"is_inactive": True, "access_rights": A},
    "inactive2": {"is_inactive": True, "access_rights": A},
    "throttle1": {"throttle_interval": 9, "throttle_retry_limit": 99, "access_rights": A},
    "difforg": {"org_id": "different", "access_rights": A},
    "per_api_and_no_other_partitions": {
        "partitions": {"per_api": True},
        "access_rights": {
            "c": {"limit": {"rate": 2000, "per": 60, "quota_max": -1}},
            "d": {"limit": {"rate": 20, "per": 1, "quota_max": 1000, "quota_renewal_rate": 3600}},
        },
    },
    "per_api_with_api_d": {
        "partitions": {"per_api": True},
        "access_rights": {
            "d": {"limit": {"rate": 200, "per": 10, "quota_max": 5000, "quota_renewal_rate": 3600}}
        },
    },
    "per_api_with_limit_set_from_policy": {
        "partitions": {"per_api": True},
        "rate": 300,
        "per": 1,
        "quota_max": -1,
        "access_rights": {
            "d": {"limit": {"rate": 200, "per": 10, "quota_max": 5000, "quota_renewal_rate": 3600}},
            "e": {},
        },
    },
    "per-path1": {
        "access_rights": {
            "a": {"allowed_urls": [{"url": "/user", "methods": ["GET", "POST"]}]},
            "b": {"allowed_urls": [{"url": "/", "methods": ["PUT"]}]},
        }
    },
    "per-path2": {
        "access_rights": {
            "a": {
                "allowed_urls": [
                    {"url": "/user", "methods": ["GET"]},
                    {"url": "/companies", "methods": ["GET", "POST"]},
                ]
            }
        }
    },
}
POLICIES = PolicySet.of(Policy.from_json(raw, "fixture", pid) for pid, raw in FIXTURE.items())


def merged(*ids: str, api_org: str | None = "", **key: Any) -> dict[str, Any]:
    return apply({"apply_policies": list(ids), **key}, POLICIES, api_org)


def test_no_policies_leaves_the_key_and_scopes_its_own_per_api_limits() -> None:
    key = {"rate": 5, "per": 1, "access_rights": {"x": {"limit": {"rate": 1, "per": 1}}, "y": {}}}
    out = apply(key, POLICIES)
    assert out["rate"] == 5 and out["access_rights"]["x"]["allowance_scope"] == "x"
    assert "allowance_scope" not in out["access_rights"]["y"]


@pytest.mark.parametrize(
    ("ids", "error"),
    [
        (["nonexistent"], 'policy not found: "nonexistent"'),
        (["difforg"], 'policy not found: "difforg"'),  # looked up in the key's org: not found there
        (["rate3"], NO_VALID),  # grants no API
        (["per_api_with_api_d", "quota1"], MIXED),
        (["rate1", "per_api_with_api_d"], MIXED),
    ],
)
def test_keys_that_cannot_be_served(ids: list[str], error: str) -> None:
    with pytest.raises(PolicyError, match=error.replace('"', '"')):
        merged(*ids)


def test_a_policy_of_another_org_than_the_api_is_refused() -> None:
    with pytest.raises(PolicyError, match=DIFFERENT_ORG):
        apply({"apply_policies": ["difforg"], "org_id": "different"}, POLICIES, api_org="mine")
    assert apply({"apply_policies": ["difforg"], "org_id": "different"}, POLICIES, api_org=None)[
        "access_rights"
    ]


def test_one_missing_policy_among_several_is_skipped_and_counters_split_by_policy() -> None:
    out = merged("nonpart1", "nonpart2", "nonexistent")
    rights = out["access_rights"]
    assert set(rights) == {"a", "b"}
    # The record file's map key is the id (Tyk's LoadPoliciesFromFile), so it names the counters.
    assert (rights["a"]["allowance_scope"], rights["b"]["allowance_scope"]) == ("nonpart1", "nonpart2")
    assert "allowance_scope" not in merged("nonpart3")["access_rights"]["a"]  # one policy: one counter


@pytest.mark.parametrize(
    ("ids", "field", "value"),
    [
        (["quota1", "quota2"], "quota_max", 3),
        (["unlimited-quota", "quota2"], "quota_max", -1),
        (["quota5", "quota4"], "quota_max", 4),
        (["rate1", "rate2"], "rate", 4),
        (["throttle1"], "throttle_interval", 9),
        (["throttle1"], "throttle_retry_limit", 99),
    ],
)
def test_between_policies_the_most_generous_wins(ids: list[str], field: str, value: int) -> None:
    assert merged(*ids)[field] == value


def test_the_keys_own_figures_are_dropped_first() -> None:
    assert merged("rate4", "rate5", rate=20, per=1)["rate"] == 10
    assert merged("rate-no-partition", rate=20, per=1)["rate"] == 12


def test_apis_only_non_acl_policies_name_are_dropped() -> None:
    out = merged("quota4", "nonpart1")
    assert set(out["access_rights"]) == {"a"} and out["quota_max"] == 3
    assert merged("acl1", "rate-for-a-b")["access_rights"]["a"]["limit"]["rate"] == 4
    rights = merged("acl-for-a-b", "rate-for-a", "rate-for-b")["access_rights"]
    assert (rights["a"]["limit"]["rate"], rights["b"]["limit"]["rate"]) == (4, 2)
    assert set(merged("acl-for-a-b", access_rights={"c": {}})["access_rights"]) == {"a", "b"}


def test_a_master_policy_with_an_acl_one() -> None:
    for ids in (["quota1", "rate3"], ["rate3", "quota1"]):
        out = merged(*ids)
        assert (out["quota_max"], out["rate"], out["per"]) == (2, 4, 4)


def test_inactivity_and_tags() -> None:
    assert merged(is_inactive=True)["is_inactive"] is True  # no policies: the key's own
    assert merged("tags1", "inactive1")["is_inactive"] is True
    assert merged("tags1", "tags2", is_inactive=True)["is_inactive"] is False
    assert sorted(merged("tags1", "tags2", tags=["key-tag"])["tags"]) == ["key-tag", "tagA", "tagX", "tagY"]


def test_per_api_limits_and_their_counters() -> None:
    rights = merged("per_api_and_no_other_partitions")["access_rights"]
    assert rights["c"]["limit"]["rate"] == 2000 and rights["c"]["allowance_scope"] == "c"
    assert rights["d"]["limit"]["quota_max"] == 1000 and rights["d"]["allowance_scope"] == "d"
    d = merged("per_api_and_no_other_partitions", "per_api_with_api_d")["access_rights"]["d"]
    assert (d["limit"]["rate"], d["limit"]["per"], d["limit"]["quota_max"]) == (200, 10, 5000)
    assert d["allowance_scope"] == "d"
    rights = merged("per_api_with_limit_set_from_policy")["access_rights"]
    assert (rights["e"]["limit"]["rate"], rights["e"]["limit"]["quota_max"]) == (300, -1)
    assert rights["e"]["allowance_scope"] == "per_api_with_limit_set_from_policy"
    assert rights["d"]["allowance_scope"] == "d"


def test_allowed_urls_are_merged_by_url_and_policies_stay_untouched() -> None:
    rights = merged("per-path2", "per-path1")["access_rights"]
    assert rights["a"]["allowed_urls"] == [
        {"url": "/user", "methods": ["GET", "POST"]},
        {"url": "/companies", "methods": ["GET", "POST"]},
    ]
    assert rights["b"]["allowed_urls"] == [{"url": "/", "methods": ["PUT"]}]
    assert FIXTURE["per-path2"]["access_rights"]["a"]["allowed_urls"][0]["methods"] == ["GET"]


def test_legacy_single_policy_field() -> None:
    assert policy_ids({"apply_policy_id": "p"}) == ["p"]
    assert policy_ids({"apply_policies": ["a"], "apply_policy_id": "p"}) == ["a"]
    assert set(apply({"apply_policy_id": "nonpart3"}, POLICIES)["access_rights"]) == {"a", "b"}


def test_a_keys_inline_policies_are_used_instead_of_the_served_ones() -> None:
    """Tyk's custom policies: `meta_data.policies` holds whole policy objects, found by id, org-checked."""
    served = PolicySet.of([Policy.from_json({"id": "p", "rate": 1, "per": 1, "access_rights": A}, "s")])
    own = [{"id": "p", "org_id": "o", "rate": 50, "per": 1, "access_rights": B}]
    key = {"org_id": "o", "apply_policies": ["p"], "meta_data": {"policies": own}}
    merged = apply(key, served)
    assert (merged["rate"], list(merged["access_rights"])) == (50, ["b"])
    assert apply(key, served, api_org="o")["rate"] == 50
    with pytest.raises(PolicyError, match=DIFFERENT_ORG):
        apply(key, served, api_org="other")
    with pytest.raises(PolicyError, match=r"meta_data.policies: \$.rate: expected a finite number"):
        apply({**key, "meta_data": {"policies": [{"id": "p", "rate": "fast"}]}}, served)
    assert apply({"apply_policies": ["p"], "meta_data": {"policies": "not a list"}}, served)["rate"] == 1


def test_policy_trigger_limits_join_the_keys_own() -> None:
    """Not in Tyk: a policy's `monitor.trigger_limits` are added to the key's (no duplicates)."""
    tiers = [
        Policy.from_json({"access_rights": A, "monitor": {"trigger_limits": t}}, "t", pid)
        for pid, t in (("t1", [30, 50]), ("t2", [95]))
    ]
    policies = PolicySet.of(tiers)
    key = {"apply_policies": ["t1", "t2"], "monitor": {"trigger_limits": [50, 80]}}
    assert apply(key, policies)["monitor"] == {"trigger_limits": [50, 80, 30, 95]}
    assert "monitor" not in apply({"apply_policies": ["nonpart1"]}, POLICIES)  # none: none added
    with pytest.raises(ConfigError, match=r"monitor.trigger_limits\[0\]"):
        Policy.from_json({"monitor": {"trigger_limits": [101]}}, "bad", "bad")
