"""How Tyk merges a key's policies into its session (internal/policy/apply.go, after the lookup): access
rights replaced by the policies', between policies the most generous rate (smallest per/rate), the
highest quota (-1 highest of all), the union of versions and URLs (and, ours, of quota trigger
thresholds); `partitions` restrict what a policy applies and `per_api` gives each API its own limits.
Pure: JSON in, JSON out; no lookups.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, MutableMapping
from typing import Any

from gateway.identity.policies import Policy

Json = MutableMapping[str, Any]
RATE_FIELDS = ("rate", "per", "smoothing", "throttle_interval", "throttle_retry_limit")
QUOTA_FIELDS = ("quota_max", "quota_renewal_rate", "quota_renews")
MIXED = "cannot apply multiple policies when some have per_api set and some are partitioned"
NO_VALID = "key has no valid policies to be applied"


class PolicyError(Exception):
    """The key cannot be served as its policies stand (Tyk's Apply error)."""


class Merge:
    def __init__(self, s: dict[str, Any]) -> None:
        self.s = s
        self.own: Mapping[str, Any] = s.get("access_rights") or {}
        self.rights: dict[str, Json] = {}
        self.did: dict[str, set[str]] = {
            "acl": set(),
            "quota": set(),
            "rate_limit": set(),
            "complexity": set(),
        }
        self.set_by: dict[str, str] = {}
        self.inactive = False
        self.tags: list[str] = []
        self.per_api = self.partitioned = False

    def policy(self, policy: Policy) -> None:
        raw, s = policy.raw, self.s
        if policy.per_api:
            if self.partitioned:
                raise PolicyError(MIXED)
            self.per_api = True
            self._per_api(policy)
        else:
            if policy.partitions:
                if self.per_api:
                    raise PolicyError(MIXED)
                self.partitioned = True
            self._partitions(policy)
        self.inactive |= bool(raw.get("is_inactive"))
        self.tags += [t for t in raw.get("tags") or () if t not in self.tags]
        s["meta_data"].update(raw.get("meta_data") or {})
        # Not in Tyk: a policy's quota thresholds (TriggerExceeded) join the key's own.
        extra = (raw.get("monitor") or {}).get("trigger_limits") or []
        if extra:
            monitor = s["monitor"] = dict(s.get("monitor") or {})
            monitor["trigger_limits"] = _union(list(monitor.get("trigger_limits") or []), extra)
        if str(raw.get("last_updated") or "") > str(s.get("last_updated") or ""):
            s["last_updated"] = raw["last_updated"]

    def _partitions(self, policy: Policy) -> None:
        s, raw, pid = self.s, policy.raw, policy.id
        use = policy.partitions or {"acl", "quota", "rate_limit", "complexity"}
        for api_id, entry in policy.access_rights.items():
            right = self.rights.get(api_id) or {"limit": {}}
            limit = right["limit"]
            if "acl" in use:
                self.did["acl"].add(api_id)
                right["versions"] = _union(right.get("versions") or [], entry.get("versions") or [])
                right["allowed_urls"] = _merge_urls(
                    right.get("allowed_urls") or [], entry.get("allowed_urls") or []
                )
                self.set_by[api_id] = pid
            if "quota" in use:
                self.did["quota"].add(api_id)
                for name in ("quota_max", "quota_renewal_rate"):
                    value = raw.get(name) or 0
                    greater = _greater_quota if name == "quota_max" else _greater
                    if greater(value, limit.get(name) or 0):
                        limit[name] = value
                        if greater(value, s.get(name) or 0):
                            s[name] = value
            if "rate_limit" in use:
                self.did["rate_limit"].add(api_id)
                _more_generous(limit, raw)
                _more_generous(s, raw)
                for name in ("throttle_retry_limit", "throttle_interval"):
                    value = raw.get(name) or 0
                    if value > (limit.get(name) or 0):
                        limit[name] = value
                    if value > (s.get(name) or 0):
                        s[name] = value
            if "complexity" in use:
                self.did["complexity"].add(api_id)
                for target in (limit, s):
                    if _greater_quota(raw.get("max_query_depth") or 0, target.get("max_query_depth") or 0):
                        target["max_query_depth"] = raw.get("max_query_depth") or 0
            self._keep_renews(api_id, limit)
            self.rights[api_id] = right
        if not policy.access_rights:  # a "master" policy: its figures replace the key's root ones
            if "rate_limit" in use:
                s.update({name: raw.get(name) for name in RATE_FIELDS})
            if "complexity" in use:
                s["max_query_depth"] = raw.get("max_query_depth") or 0
            if "quota" in use:
                s.update(
                    quota_max=raw.get("quota_max") or 0, quota_renewal_rate=raw.get("quota_renewal_rate") or 0
                )
        for name in ("hmac_enabled", "enable_http_signature_validation"):
            s[name] = bool(s.get(name)) or bool(raw.get(name))

    def _per_api(self, policy: Policy) -> None:
        raw = policy.raw
        for api_id, entry in policy.access_rights.items():
            new: Json = copy.deepcopy(dict(entry))
            if empty_limit(new.get("limit")):
                new["limit"] = {
                    name: raw.get(name) for name in (*RATE_FIELDS, "quota_max", "quota_renewal_rate")
                }
                new["limit"]["max_query_depth"] = raw.get("max_query_depth") or 0
                scope = policy.id
            else:
                scope = api_id
            new["allowance_scope"] = scope
            self._keep_renews(api_id, new["limit"])
            current = self.rights.get(api_id)
            if current is not None and self._api_level(new, current):
                scope = self.set_by.get(api_id, scope)  # the earlier policy's figures, its counter too
            self.set_by[api_id] = scope
            self.rights[api_id] = new
            for done in self.did.values():
                done.add(api_id)

    @staticmethod
    def _api_level(new: Json, current: Json) -> bool:
        """Two per_api policies on one API: the more generous rate and the higher quota win. True when
        the earlier entry's figures were kept (its counter then stays the API's)."""
        mine, theirs = new["limit"], current["limit"]
        took = False
        if _duration(mine) > _duration(theirs):
            mine.update(rate=theirs.get("rate"), per=theirs.get("per"), smoothing=theirs.get("smoothing"))
            took = True
        if _greater_quota(theirs.get("quota_max") or 0, mine.get("quota_max") or 0):
            mine["quota_max"] = theirs.get("quota_max")
            took = True
        if took:
            new["allowance_scope"] = current.get("allowance_scope")
        mine["quota_renewal_rate"] = max(
            mine.get("quota_renewal_rate") or 0, theirs.get("quota_renewal_rate") or 0
        )
        if mine.get("quota_max") == -1:
            mine["quota_renewal_rate"] = 0
        return took

    def _keep_renews(self, api_id: str, limit: Json) -> None:
        own = self.own.get(api_id)
        if isinstance(own, dict) and not empty_limit(own.get("limit")):
            limit["quota_renews"] = own["limit"].get("quota_renews", 0)

    def finish(self, ids: list[str]) -> dict[str, Any]:
        s, rights = self.s, self.rights
        s["is_inactive"] = self.inactive
        s["tags"] = _union([t for t in s.get("tags") or () if isinstance(t, str)], self.tags)
        distinct = {self.set_by[k] for k in rights if self.set_by.get(k)}
        for api_id in list(rights):
            right, limit = rights[api_id], rights[api_id]["limit"]
            if api_id not in self.did["acl"]:
                del rights[api_id]  # limits for an API no policy grants
                continue
            if api_id not in self.did["rate_limit"]:
                limit.update({name: s.get(name) for name in RATE_FIELDS})
            if api_id not in self.did["complexity"]:
                limit["max_query_depth"] = s.get("max_query_depth") or 0
            if api_id not in self.did["quota"]:
                limit.update({name: s.get(name) or 0 for name in QUOTA_FIELDS})
            if len(distinct) > 1 and not right.get("allowance_scope"):
                right["allowance_scope"] = self.set_by.get(api_id, "")
        areas = [self.did[a] for a in ("quota", "rate_limit", "complexity")]
        if all(len(area) == 1 for area in areas):  # Tyk's legacy root figures: the one API's
            only = rights.get(next(iter(areas[0])))
            if only is not None:
                limit = only["limit"]
                s.update({name: limit.get(name) for name in ("rate", "per", "smoothing", *QUOTA_FIELDS)})
                s["max_query_depth"] = limit.get("max_query_depth") or 0
        if self.did["acl"]:
            s["access_rights"] = rights
        if not rights and ids:
            raise PolicyError(NO_VALID)
        return s


def empty_limit(limit: Any) -> bool:
    if not isinstance(limit, dict):
        return True
    return not any(v for k, v in limit.items() if k != "smoothing" and isinstance(v, int | float))


def _duration(limit: Mapping[str, Any]) -> float:
    rate, per = limit.get("rate") or 0, limit.get("per") or 0
    return per / rate if rate > 0 and per > 0 else 0.0


def _more_generous(target: Json, policy: Mapping[str, Any]) -> None:
    """Tyk's ApplyRateLimits: take the policy's rate when the target has none or a slower one."""
    if not (policy.get("rate") and policy.get("per")):
        return
    if not (target.get("rate") and target.get("per")) or _duration(target) > _duration(policy):
        target.update(rate=policy.get("rate"), per=policy.get("per"), smoothing=policy.get("smoothing"))


def _greater(a: float, b: float) -> bool:
    return a > b


def _greater_quota(a: float, b: float) -> bool:
    """-1 (unlimited) beats everything, else the larger."""
    return b != -1 and (a == -1 or a > b)


def _union(first: list[Any], more: Any) -> list[Any]:
    out = list(first)
    out += [x for x in more if x not in out]
    return out


def _merge_urls(current: list[Any], more: list[Any]) -> list[Any]:
    """Entries merged by URL, methods unioned, first-seen order kept (Tyk's MergeAllowedURLs)."""
    merged = [copy.deepcopy(u) for u in current if isinstance(u, dict)]
    for entry in more:
        if not isinstance(entry, dict):
            continue
        same = next((u for u in merged if u.get("url") == entry.get("url")), None)
        if same is None:
            merged.append(copy.deepcopy(entry))
        else:
            same["methods"] = _union(same.get("methods") or [], entry.get("methods") or [])
    return merged
