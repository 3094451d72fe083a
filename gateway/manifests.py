"""Files Tyk users already have: JSON, YAML (one or more documents) and Tyk Operator manifests, read into
documents for the API and policy loaders, with errors naming the file, the document and the line.

Reading and the Operator envelope (apiVersion, kind, metadata) only: what a spec means is the rooms'
(apidef/operator.py, identity/operator.py). YAML through the safe loader only; never the store.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from gateway.errors import ConfigError, non_finite

EXTENSIONS = (".json", ".yaml", ".yml")
YAML = (".yaml", ".yml")
GROUP = "tyk.tyk.io"
API_VERSION = f"{GROUP}/v1alpha1"
API, POLICY = "ApiDefinition", "SecurityPolicy"
# kubectl applies a manifest without metadata.namespace to the context's namespace, "default" by default.
DEFAULT_NAMESPACE = "default"
_GO_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True, slots=True)
class Manifest:
    """A Kubernetes-style document: `where` names the file and document; `spec` is Operator's payload."""

    where: str
    api_version: str
    kind: str
    namespace: str = DEFAULT_NAMESPACE
    name: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, Any] = field(default_factory=dict)


def file_names(path: str) -> list[str]:
    """The definition files directly in `path`, in name order (JSON and YAML alike)."""
    return [
        os.path.join(path, name)
        for name in sorted(os.listdir(path))
        if name.endswith(EXTENSIONS) and not os.path.isdir(os.path.join(path, name))
    ]


def documents(path: str) -> list[tuple[str, Any]]:
    """Each document of the file with where it is: the file alone, or "file (document N)" when it holds
    several. A `kind: List` (what `kubectl get -o yaml` writes) gives each item. Empty documents are left out;
    ConfigError naming the file (and the line) when it cannot be read or parsed."""
    values = _yaml(path, _text(path)) if path.endswith(YAML) else [_json(path, _text(path))]
    # Numbered by position in the file, empty ones counted, so "document 3" is the third one there.
    numbered = [(n, v) for n, v in enumerate(values, 1) if v is not None]
    found: list[tuple[str, Any]] = []
    for n, value in numbered:
        where = f"{path} (document {n})" if len(numbered) > 1 else path
        bad = non_finite(value)  # 1e999 or YAML's .inf: Go cannot hold it, nor could we write it back
        if bad is not None:
            raise ConfigError(where, f"{bad[0]}: expected a finite number, got {json.dumps(bad[1])}")
        items = value.get("items") if isinstance(value, dict) and value.get("kind") == "List" else None
        if isinstance(items, list):
            found += [(f"{where} items[{i}]", item) for i, item in enumerate(items)]
        else:
            found.append((where, value))
    return found


def read_one(path: str) -> Any:
    """A file holding exactly one JSON or YAML document (a policy record file)."""
    values = _yaml(path, _text(path)) if path.endswith(YAML) else [_json(path, _text(path))]
    if len(values) != 1:
        raise ConfigError(path, f"expected one document, found {len(values)}")
    return values[0]


def same_folder(app_path: str, policy_path: str) -> bool:
    """Whether one folder is both app_path and policy_path (a GitOps folder of APIs and policies)."""
    return bool(app_path and policy_path) and os.path.realpath(app_path) == os.path.realpath(policy_path)


def is_api(value: Any) -> bool:
    """In a folder that is both, a plain document with an API's top-level fields is an API definition and
    any other a policy (a policy has none of them: its api_ids sit inside access_rights)."""
    return isinstance(value, dict) and any(
        k in value for k in ("api_id", "proxy", "openapi", "x-tyk-api-gateway")
    )


def manifest(where: str, value: Any) -> Manifest | None:
    """The envelope of a Kubernetes-style document, None for a plain Tyk definition or policy (which never
    has both apiVersion and kind). ConfigError naming the field for a malformed Operator manifest."""
    if not (isinstance(value, dict) and "apiVersion" in value and "kind" in value):
        return None
    version, kind = value["apiVersion"], value["kind"]
    if not isinstance(version, str) or not isinstance(kind, str):
        raise ConfigError(where, "$.apiVersion and $.kind: expected strings")
    if kind not in (API, POLICY):
        return Manifest(where, version, kind)  # the loaders skip it, naming the kind
    if version != API_VERSION:
        raise ConfigError(where, f"$.apiVersion: {kind} is {API_VERSION} (Tyk Operator's), got {version!r}")
    meta, spec = value.get("metadata"), value.get("spec")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise ConfigError(where, "$.metadata.name: required, a non-empty string")
    namespace = meta.get("namespace") or DEFAULT_NAMESPACE
    labels = meta.get("labels") or {}
    if not isinstance(namespace, str) or not isinstance(labels, dict):
        raise ConfigError(where, "$.metadata: namespace must be a string and labels an object")
    if not isinstance(spec, dict):
        raise ConfigError(where, f"$.spec: required, the {kind}'s fields as an object")
    return Manifest(where, version, kind, namespace, meta["name"], spec, labels)


def derived_id(namespace: str, name: str) -> str:
    """Operator's id for a resource whose spec has none: "namespace/name" in unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(f"{namespace}/{name}".encode()).decode().rstrip("=")


def encoded_reference(value: str) -> str:
    """Operator's encodeIfNotBase64, for policy ids in JWT fields: a value Go's unpadded URL-safe base64
    decoder accepts is an id already; anything else ("namespace/name") is encoded as derived_id does."""
    if _GO_BASE64URL.fullmatch(value) and len(value) % 4 != 1:
        return value
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def spec_path(exc: ConfigError, where: str) -> ConfigError:
    """A parser's error about a manifest's spec, its JSON path rebased under `$.spec`."""
    reason = exc.reason
    return ConfigError(where, "$.spec" + reason[1:] if reason.startswith(("$.", "$:", "$[")) else reason)


def _text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(path, f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text (byte {exc.start})") from None


def _json(path: str, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ConfigError(path, "not valid JSON: nested too deeply") from None


def _yaml(path: str, text: str) -> list[Any]:
    try:
        loaded = list(yaml.safe_load_all(text))
    except yaml.MarkedYAMLError as exc:
        parts = [
            f"{what}{_at(mark)}"
            for what, mark in ((exc.context, exc.context_mark), (exc.problem, exc.problem_mark))
            if what
        ]
        raise ConfigError(path, f"not valid YAML: {': '.join(parts)}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(path, "not valid YAML: nested too deeply") from None
    memo: dict[int, Any] = {}
    try:
        return [_as_json(value, memo) for value in loaded]
    except RecursionError:
        raise ConfigError(path, "not valid YAML: nested too deeply") from None


def _at(mark: Any) -> str:
    return f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""


def _as_json(value: Any, memo: dict[int, Any]) -> Any:
    """What Kubernetes' YAML-to-JSON step gives: timestamps stay text and keys become strings, so a YAML
    file means what the same JSON means. Shared (aliased) nodes are converted once."""
    if isinstance(value, dict | list):
        if id(value) not in memo:
            memo[id(value)] = (
                {_key(k): _as_json(v, memo) for k, v in value.items()}
                if isinstance(value, dict)
                else [_as_json(v, memo) for v in value]
            )
        return memo[id(value)]
    if isinstance(value, datetime.date):  # datetime included
        return str(value)
    return value


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    return str(key) if isinstance(key, datetime.date) else json.dumps(key)
