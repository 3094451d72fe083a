"""Security policies: Tyk's policy object, type-checked, and the set a gateway holds, read from tyk.conf
`policies` (a folder of one policy per file, which /tyk/policies manages, or one file of policies by id),
in JSON or YAML; a folder's documents may be Tyk Operator SecurityPolicy manifests (operator.py).

Parsing and file reading only: merging policies into a key is `apply.py`'s. A bad file or entry is
skipped with a reason naming the file and the field; the rest load. It never touches the store.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway import manifests
from gateway.config.model import PoliciesConfig
from gateway.errors import ConfigError
from gateway.identity import operator
from gateway.identity.limits import Reader, trigger_limits
from gateway.log import get_logger

log = get_logger("identity")

# Tyk's check on a policy id written through the REST API (allow_unsafe_policy_ids off).
SAFE_ID = re.compile(r"[a-zA-Z0-9.\-_~]+")
PARTITIONS = ("quota", "rate_limit", "complexity", "acl", "per_api")
# Numbers Tyk keeps as int64 and float64; the rest of a policy is text, flags, lists and objects.
_INTEGERS = ("quota_max", "quota_renewal_rate", "throttle_retry_limit", "max_query_depth", "key_expires_in")
_NUMBERS = ("rate", "per", "throttle_interval")


@dataclass(frozen=True, slots=True)
class Policy:
    """One policy: `raw` is its JSON (normalised: `id` set), which apply.py merges field by field."""

    id: str
    org_id: str
    partitions: frozenset[str]  # the partition flags that are on
    access_rights: Mapping[str, Mapping[str, Any]]
    raw: Mapping[str, Any] = field(default_factory=dict)
    # The YAML file or Operator manifest (and document) that holds it: the REST API does not rewrite those.
    managed_by: str = ""

    @property
    def per_api(self) -> bool:
        return "per_api" in self.partitions

    @classmethod
    def from_json(cls, raw: Any, where: str, policy_id: str = "") -> Policy:
        """A policy from its JSON object (`policy_id`, a record file's map key, wins over its `id`);
        ConfigError naming `where`, the field and the value when a field has the wrong type."""
        if not isinstance(raw, dict):
            shown = json.dumps(raw, default=repr)[:60]
            raise ConfigError(where, f"$: expected a policy object, got {shown}")
        r = Reader(where, "$", raw)
        pid = policy_id or r.text("id") or r.text("_id")
        if not pid:
            raise ConfigError(where, "$.id: a policy needs an id, but it has none")
        for name in _INTEGERS:
            r.integer(name)
        for name in _NUMBERS:
            r.number(name)
        for name in ("hmac_enabled", "enable_http_signature_validation", "active", "is_inactive"):
            r.flag(name)
        for name in ("name", "org_id", "last_updated", "post_expiry_action"):
            r.text(name)
        r.mapping("meta_data")
        trigger_limits(Reader(where, "$.monitor", r.mapping("monitor")))  # not in Tyk: merge.py's
        for i, tag in enumerate(r.items("tags")):
            if not isinstance(tag, str):
                raise r.fail(f"tags[{i}]", "a string", tag)
        parts = Reader(where, "$.partitions", r.mapping("partitions"))
        on = frozenset(p for p in PARTITIONS if parts.flag(p))
        rights = r.mapping("access_rights")
        for api_id, entry in rights.items():
            _check_right(Reader(where, "$.access_rights", rights), api_id, entry)
        if "per_api" in on and len(on) > 1:
            raise ConfigError(where, "$.partitions: per_api cannot be combined with other partitions")
        return cls(pid, r.text("org_id"), on, rights, {**raw, "id": pid})


def _check_right(r: Reader, api_id: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise r.fail(api_id, "an object", entry)
    right = Reader(r.where, f"{r.path}.{api_id}", entry)
    for name in ("api_id", "api_name"):
        right.text(name)
    for i, version in enumerate(right.items("versions")):
        if not isinstance(version, str):
            raise right.fail(f"versions[{i}]", "a string", version)
    right.items("allowed_urls")
    limit = Reader(r.where, f"{right.path}.limit", right.mapping("limit"))
    for name in (*_INTEGERS[:4], "quota_remaining", "quota_renews"):
        limit.integer(name)
    for name in _NUMBERS:
        limit.number(name)


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The policies a gateway serves, by (org, id) as Tyk looks them up for a key, and by id alone
    (the last loaded wins) for the REST API. Immutable: a reload swaps in a new set."""

    scoped: Mapping[tuple[str, str], Policy] = field(default_factory=dict)
    by_id: Mapping[str, Policy] = field(default_factory=dict)

    @classmethod
    def of(cls, policies: Iterable[Policy]) -> PolicySet:
        listed = list(policies)
        return cls({(p.org_id, p.id): p for p in listed}, {p.id: p for p in listed})

    def find(self, org_id: str, policy_id: str) -> Policy | None:
        return self.scoped.get((org_id, policy_id))

    def __len__(self) -> int:
        return len(self.scoped)


def folder(config: PoliciesConfig) -> str:
    """Where /tyk/policies writes: `policy_path`, or "" when policies do not come from a folder."""
    return config.policy_path


def load(
    config: PoliciesConfig,
    apis: Mapping[tuple[str, str], tuple[str, str]] | None = None,
    app_path: str = "",
) -> tuple[PolicySet, list[ConfigError]]:
    """The configured policies, and one ConfigError per file or entry skipped (naming it and why). `apis`:
    the ApiDefinition manifests loaded from `app_path`, (namespace, name) -> (api_id, name), which
    SecurityPolicy manifests' access_rights_array entries name."""
    if config.policy_path:
        shared = manifests.same_folder(app_path, config.policy_path)
        return _load_folder(config.policy_path, apis or {}, shared)
    if config.policy_record_name:
        return _load_record(config.policy_record_name)
    return PolicySet(), []


def _load_folder(
    path: str, apis: Mapping[tuple[str, str], tuple[str, str]], shared: bool = False
) -> tuple[PolicySet, list[ConfigError]]:
    """Every `*.json`, `*.yaml` and `*.yml` directly in `path`, one policy per document, in name order (a
    later duplicate wins). `shared`: `path` is app_path too, whose loader has the APIs and reports the
    other kinds."""
    if not os.path.isdir(path):
        if os.path.exists(path):
            return PolicySet(), [ConfigError(path, "policies.policy_path: not a directory")]
        return PolicySet(), []  # made by the first POST /tyk/policies
    found: list[Policy] = []
    errors: list[ConfigError] = []
    for file in manifests.file_names(path):
        try:
            documents = manifests.documents(file)
        except ConfigError as exc:
            if not shared:  # else the API loader has reported the file
                errors.append(exc)
            continue
        for where, value in documents:
            try:
                policy = _document(where, value, apis, shared)
            except ConfigError as exc:
                errors.append(exc)
                continue
            if policy is not None:
                found.append(policy)
    return PolicySet.of(found), errors


def _document(
    where: str, value: Any, apis: Mapping[tuple[str, str], tuple[str, str]], shared: bool
) -> Policy | None:
    """One document as a policy; None for an API definition or another kind (logged unless `shared`)."""
    found = manifests.manifest(where, value)
    if found is None and shared and manifests.is_api(value):
        return None
    if found is None:
        policy = Policy.from_json(value, where)
        return dataclasses.replace(policy, managed_by="" if where.endswith(".json") else where)
    if found.kind != manifests.POLICY:
        if not shared:
            log.warning(
                "%s: kind %s skipped: not a security policy (APIs are read from app_path)", where, found.kind
            )
        return None
    raw = operator.policy(found, apis)  # its own errors name $.spec already
    try:
        return dataclasses.replace(Policy.from_json(raw, where), managed_by=where)
    except ConfigError as exc:
        raise manifests.spec_path(exc, where) from None


def _load_record(path: str) -> tuple[PolicySet, list[ConfigError]]:
    """One JSON (or YAML) object mapping id -> policy; its map key is the policy's id."""
    try:
        raw = manifests.read_one(path)
    except ConfigError as exc:
        return PolicySet(), [exc]
    if not isinstance(raw, dict):
        return PolicySet(), [ConfigError(path, "$: expected an object of policies by id")]
    found: list[Policy] = []
    errors: list[ConfigError] = []
    for policy_id, entry in raw.items():
        try:
            found.append(Policy.from_json(entry, f"{path} ({policy_id})", policy_id))
        except ConfigError as exc:
            errors.append(exc)
    return PolicySet.of(found), errors
