"""Tyk's Apply (internal/policy/apply.go): a key's JSON with its policies applied, as the request path and
the REST API see it: which policies (the key's list, looked up in the served set or in the key's own
inline `meta_data.policies`), the org check, and Tyk's clearing of the key's own figures; the merge itself
is merge.py's. Pure: JSON in, JSON out, PolicyError with Tyk's message when it cannot.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError
from gateway.identity.merge import MIXED, NO_VALID, Json, Merge, PolicyError, empty_limit
from gateway.identity.policies import Policy, PolicySet

__all__ = ["DIFFERENT_ORG", "MIXED", "NO_VALID", "PolicyError", "apply", "policy_ids"]
DIFFERENT_ORG = "attempting to apply policy from different organisation to key, skipping"


def policy_ids(raw: Mapping[str, Any]) -> list[str]:
    """`apply_policies`, else the legacy `apply_policy_id`, else none (Tyk's PolicyIDs)."""
    listed = raw.get("apply_policies") or []
    if listed:
        return [p for p in listed if isinstance(p, str)]
    legacy = raw.get("apply_policy_id")
    return [legacy] if isinstance(legacy, str) and legacy else []


def apply(raw: Mapping[str, Any], policies: PolicySet, api_org: str | None = None) -> dict[str, Any]:
    """The session JSON with its policies applied. `api_org` is the API's org when a request for an API
    applies them (policies of another org are then refused); None for the REST API."""
    s: dict[str, Any] = copy.deepcopy(dict(raw))
    s["meta_data"] = dict(s.get("meta_data") or {})
    ids = policy_ids(s)
    if not ids:
        for api_id, right in (s.get("access_rights") or {}).items():
            if (
                isinstance(right, dict)
                and not empty_limit(right.get("limit"))
                and not right.get("allowance_scope")
            ):
                right["allowance_scope"] = api_id  # the key's own per-API limits count per API
        return s
    org = s.get("org_id") or api_org or ""
    inline = s["meta_data"].get("policies")
    if isinstance(inline, list):  # Tyk's custom policies: the key's own, used instead of the served ones
        policies = _inline(inline, org)
    found = [(pid, policies.find(org, pid)) for pid in ids]
    _clear(s, found)
    merge = Merge(s)
    for pid, policy in found:
        if policy is None:
            if len(ids) > 1:
                continue  # one missing among several is skipped
            raise PolicyError(f'policy not found: "{pid}"')
        if api_org is not None and policy.org_id != api_org:
            raise PolicyError(DIFFERENT_ORG)
        merge.policy(policy)
    return merge.finish(ids)


def _inline(entries: list[Any], org: str) -> PolicySet:
    """A key's `meta_data.policies`, found by id (Tyk's custom store ignores the org for the lookup; the org
    check against the API still applies)."""
    try:
        found = [Policy.from_json(entry, "meta_data.policies") for entry in entries]
    except ConfigError as exc:
        raise PolicyError(f"{exc.where}: {exc.reason}") from None
    return PolicySet({(org, p.id): p for p in found}, {p.id: p for p in found})


def _clear(s: Json, found: list[tuple[str, Policy | None]]) -> None:
    """Tyk's ClearSession: the key's own figures in every area a policy covers are dropped first, so
    "highest wins" holds between policies, not against the key."""
    for _, policy in found:
        if policy is None:
            return
        parts = policy.partitions - {"per_api"}
        every = not parts
        if every or "quota" in parts:
            s["quota_max"] = s["quota_remaining"] = 0
        if every or "rate_limit" in parts:
            s.update(rate=0, per=0, throttle_interval=0, throttle_retry_limit=0, smoothing=None)
        if every or "complexity" in parts:
            s["max_query_depth"] = 0
