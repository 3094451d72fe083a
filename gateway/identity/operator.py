"""Tyk Operator's SecurityPolicy manifests as the Tyk policies Operator sends to a Tyk gateway: the spec is
a policy in Tyk's field names, except that `access_rights_array` names ApiDefinitions by Kubernetes name.

Pure: a manifest and the loaded ApiDefinitions in, a policy dict out (Policy.from_json checks its types).
A reference that does not resolve, or a setting only the Dashboard acts on, raises ConfigError by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.errors import ConfigError
from gateway.manifests import API, Manifest, derived_id

# What an access_rights_array entry says about Kubernetes: the reference, not part of Tyk's access right.
_REFERENCE = ("name", "namespace", "kind")
_STATES = ("active", "draft")


def policy(manifest: Manifest, apis: Mapping[tuple[str, str], tuple[str, str]]) -> dict[str, Any]:
    """The policy Operator would send a Tyk OSS gateway: `id` derived from namespace/name when the spec
    has none, `_id` (the Dashboard's database id) and `contextRef` dropped, each access_rights_array entry
    an access right keyed by the api_id of the ApiDefinition it names, among `apis` (namespace, name) ->
    (api_id, api name), added to any `access_rights` written out."""
    where, spec = manifest.where, dict(manifest.spec)
    for name in ("contextRef", "_id"):
        spec.pop(name, None)
    if not spec.get("id"):
        spec["id"] = derived_id(manifest.namespace, manifest.name)
    state = spec.pop("state", None)
    if state == "deny":
        raise ConfigError(
            where,
            '$.spec.state: "deny" deactivates keys through the Dashboard, which a gateway does not do; '
            "set is_inactive: true to deactivate the keys that use it",
        )
    if state not in (None, "", *_STATES):
        raise ConfigError(where, f"$.spec.state: expected one of active, draft or deny, got {state!r}")
    array = spec.pop("access_rights_array", None)
    if array is None:
        return spec
    if not isinstance(array, list):
        raise ConfigError(where, "$.spec.access_rights_array: expected a list of ApiDefinition references")
    rights = spec.get("access_rights") or {}
    if not isinstance(rights, dict):
        raise ConfigError(where, "$.spec.access_rights: expected an object of access rights by api_id")
    rights = dict(rights)
    for i, entry in enumerate(array):
        api_id, right = _right(f"$.spec.access_rights_array[{i}]", entry, manifest, apis)
        rights[api_id] = right
    spec["access_rights"] = rights
    return spec


def _right(
    at: str, entry: Any, manifest: Manifest, apis: Mapping[tuple[str, str], tuple[str, str]]
) -> tuple[str, dict[str, Any]]:
    where = manifest.where
    if not isinstance(entry, dict):
        raise ConfigError(where, f"{at}: expected an object naming an ApiDefinition")
    kind = entry.get("kind") or API
    if kind != API:
        raise ConfigError(
            where,
            f"{at}.kind: {kind!r} is not served here (a TykOasApiDefinition's document is in a ConfigMap); "
            "only ApiDefinition references resolve",
        )
    name, namespace = entry.get("name"), entry.get("namespace") or manifest.namespace
    if not isinstance(name, str) or not name or not isinstance(namespace, str):
        raise ConfigError(where, f"{at}.name: required, the metadata.name of an ApiDefinition")
    found = apis.get((namespace, name))
    if found is None:
        raise ConfigError(
            where,
            f"{at}: no ApiDefinition {namespace}/{name} was loaded from app_path, so the policy "
            "cannot grant it (Operator refuses it too)",
        )
    api_id, api_name = found
    right = {k: v for k, v in entry.items() if k not in _REFERENCE}
    return api_id, {**right, "api_id": api_id, "api_name": api_name}
