"""Tyk's trial period (`checkAndApplyTrialPeriod`, and `generateSessionFromPolicy` for JWT): a key made
through the REST API, or a JWT user's first session, expires `key_expires_in` seconds after it is made when
one of its policies says so, taking that policy's post-expiry settings too. Applied once, at creation:
never at request time, on an update of an existing key, or by `/tyk/keys/policy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.identity.apply import policy_ids
from gateway.identity.policies import PolicySet


def trial_fields(
    raw: Mapping[str, Any], policies: PolicySet, now: float, ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """The fields a new key takes from its policies (`ids`, default all of them): the last one with a
    positive `key_expires_in` wins, as in Tyk (it is not the longest)."""
    org = raw.get("org_id") if isinstance(raw.get("org_id"), str) else ""
    fields: dict[str, Any] = {}
    for policy_id in policy_ids(raw) if ids is None else ids:
        policy = policies.find(str(org), policy_id)
        seconds = policy.raw.get("key_expires_in") if policy is not None else None
        if policy is None or not isinstance(seconds, int) or seconds <= 0:
            continue
        fields["expires"] = int(now) + seconds
        for name in ("post_expiry_action", "post_expiry_grace_period"):
            if policy.raw.get(name):
                fields[name] = policy.raw[name]
    return fields
