"""Policies from YAML files and Tyk Operator SecurityPolicy manifests: access_rights_array resolved to the
api_ids of the ApiDefinitions loaded from app_path, ids derived as Operator derives them, and what only
Kubernetes or the Dashboard can do refused naming the file, the document and the field."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.config.model import PoliciesConfig
from gateway.identity import policies
from gateway.manifests import API_VERSION, derived_id

APIS = {("default", "httpbin"): ("httpbin-id", "httpbin"), ("shop", "cart"): ("cart-id", "Cart")}


def manifest(name: str, spec: dict[str, Any], kind: str = "SecurityPolicy", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name, **meta}, "spec": spec}


def write(folder: Path, name: str, *docs: Any) -> Path:
    file = folder / name
    file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return file


def load(folder: Path, app_path: str = "") -> tuple[policies.PolicySet, list[str]]:
    found, errors = policies.load(PoliciesConfig(policy_path=str(folder)), APIS, app_path)
    return found, [str(e) for e in errors]


def test_a_security_policy_manifest_becomes_the_policy_operator_would_send(tmp_path: Path) -> None:
    rights = [
        {"name": "httpbin", "namespace": "default", "versions": ["Default"]},
        {"name": "cart", "kind": "ApiDefinition", "allowed_urls": [{"url": "/items", "methods": ["GET"]}]},
    ]
    spec = {
        "name": "Gold",
        "_id": "dashboard-id",
        "state": "active",
        "active": True,
        "contextRef": {"name": "tyk"},
        "access_rights_array": rights,
        "access_rights": {"kept": {"api_id": "kept"}},
        "rate": 5,
        "per": 10,
        "tags": ["gold"],
    }
    file = write(tmp_path, "gold.yaml", manifest("gold", spec, namespace="shop"))
    found, errors = load(tmp_path)
    assert errors == []
    gold = found.by_id[derived_id("shop", "gold")]
    assert gold.managed_by == str(file)
    assert dict(gold.access_rights) == {
        "kept": {"api_id": "kept"},
        "httpbin-id": {"versions": ["Default"], "api_id": "httpbin-id", "api_name": "httpbin"},
        # No namespace written: the policy's own, as kubectl applies both to one namespace.
        "cart-id": {
            "allowed_urls": [{"url": "/items", "methods": ["GET"]}],
            "api_id": "cart-id",
            "api_name": "Cart",
        },
    }
    assert (gold.raw["rate"], gold.raw["per"], gold.raw["tags"]) == (5, 10, ["gold"])
    assert not {"_id", "state", "contextRef", "access_rights_array"} & set(gold.raw)


def test_plain_yaml_policies_and_an_explicit_id(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", {"id": "silver", "rate": 1, "per": 1}, {"id": "bronze", "quota_max": 3})
    write(tmp_path, "b.yaml", manifest("named", {"id": "given", "name": "n"}))
    (tmp_path / "c.json").write_text('{"id": "json", "rate": 2, "per": 1}')
    found, errors = load(tmp_path)
    assert errors == [] and sorted(found.by_id) == ["bronze", "given", "json", "silver"]
    assert found.by_id["bronze"].managed_by == f"{tmp_path / 'a.yml'} (document 2)"
    assert found.by_id["json"].managed_by == ""  # the REST API's own kind of file


def test_what_cannot_work_is_refused_by_name_and_the_rest_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = write(
        tmp_path,
        "gitops.yaml",
        manifest("ok", {"access_rights_array": [{"name": "httpbin"}]}),
        manifest("gone", {"access_rights_array": [{"name": "missing", "namespace": "x"}]}),
        manifest("oas", {"access_rights_array": [{"name": "petstore", "kind": "TykOasApiDefinition"}]}),
        manifest("deny", {"state": "deny"}),
        manifest("typed", {"rate": "fast"}),
        manifest("cm", {}, kind="ConfigMap"),
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}},
        manifest("api", {"name": "x"}, kind="ApiDefinition"),
    )
    (tmp_path / "broken.yaml").write_text("id: [\n")
    found, errors = load(tmp_path)
    assert list(found.by_id) == [derived_id("default", "ok")]
    doc = f"{file} (document %d)"
    assert errors == [
        f"{tmp_path / 'broken.yaml'}: not valid YAML: while parsing a flow node at line 2 column 1: "
        "expected the node content, but found '<stream end>' at line 2 column 1",
        f"{doc % 2}: $.spec.access_rights_array[0]: no ApiDefinition x/missing was loaded from app_path, "
        "so the policy cannot grant it (Operator refuses it too)",
        f"{doc % 3}: $.spec.access_rights_array[0].kind: 'TykOasApiDefinition' is not served here (a "
        "TykOasApiDefinition's document is in a ConfigMap); only ApiDefinition references resolve",
        f'{doc % 4}: $.spec.state: "deny" deactivates keys through the Dashboard, which a gateway does not '
        "do; set is_inactive: true to deactivate the keys that use it",
        f'{doc % 5}: $.spec.rate: expected a finite number, got "fast"',
    ]
    skipped = [r.getMessage() for r in caplog.records if r.name == "gateway.identity"]
    assert skipped == [
        f"{doc % n}: kind {kind} skipped: not a security policy (APIs are read from app_path)"
        for n, kind in ((6, "ConfigMap"), (7, "Secret"), (8, "ApiDefinition"))
    ]
    caplog.clear()
    caplog.set_level(logging.INFO)
    # One folder for both: its API definitions are not policies, and the API loader reports other kinds.
    (tmp_path / "plain-api.yaml").write_text("api_id: a\nproxy: {listen_path: /a/}\n")
    shared, shared_errors = load(tmp_path, app_path=str(tmp_path))
    assert (
        list(shared.by_id) == list(found.by_id) and shared_errors == errors[1:]
    )  # the API loader names broken.yaml
    assert not [r for r in caplog.records if r.name == "gateway.identity"]


def test_a_yaml_record_file(tmp_path: Path) -> None:
    record = tmp_path / "policies.yaml"
    record.write_text("gold:\n  rate: 2\n  per: 60\nbad:\n  rate: x\n")
    found, errors = policies.load(PoliciesConfig(policy_record_name=str(record)))
    assert list(found.by_id) == ["gold"] and found.by_id["gold"].raw["rate"] == 2
    assert [str(e) for e in errors] == [f'{record} (bad): $.rate: expected a finite number, got "x"']
