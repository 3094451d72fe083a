"""load_dir on YAML files and Tyk Operator ApiDefinition manifests: a YAML definition is the same API as
its JSON, an Operator spec is a Classic definition (api_id derived as Operator derives it), and what needs
Kubernetes is refused naming the file, the document and the field while the rest serve."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.apidef.loader import load_dir
from gateway.config.model import PoliciesConfig
from gateway.identity import policies
from gateway.manifests import API_VERSION, derived_id

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "apps"


def classic(api_id: str, listen: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": "http://127.0.0.1:8000/"},
        **extra,
    }


def operator(name: str, spec: dict[str, Any], kind: str = "ApiDefinition", **meta: Any) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name, **meta}, "spec": spec}


def spec_of(listen: str, **extra: Any) -> dict[str, Any]:
    """An Operator ApiDefinition spec as its documentation writes them: no api_id."""
    return {
        "name": listen.strip("/"),
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": "http://127.0.0.1:8000/"},
        **extra,
    }


def write(folder: Path, name: str, *docs: Any) -> Path:
    file = folder / name
    file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return file


@pytest.mark.parametrize("file", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.name)
def test_every_golden_definition_in_yaml_is_the_same_api(tmp_path: Path, file: Path) -> None:
    raw = json.loads(file.read_text())
    yaml_file = write(tmp_path, file.stem + ".yaml", raw)
    [spec] = load_dir(str(tmp_path)).specs
    assert spec.raw == raw and spec.source == str(yaml_file) and spec.managed_by == str(yaml_file)
    (tmp_path / file.name).write_text(file.read_text())
    yaml_file.unlink()
    [from_json] = load_dir(str(tmp_path)).specs
    assert from_json.managed_by == ""  # JSON files stay the REST API's to rewrite
    assert (from_json.api_id, from_json.listen_path, from_json.auth, from_json.format) == (
        spec.api_id,
        spec.listen_path,
        spec.auth,
        spec.format,
    )


def test_a_gitops_folder_loads_and_refuses_by_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gateway.apidef")
    write(tmp_path, "a-classic.yml", classic("plain", "/plain/"))
    oas = json.loads((GOLDEN / "keyless-ratelimit-webhook.oas.json").read_text())
    write(tmp_path, "b-oas.yaml", oas)
    gitops = write(
        tmp_path,
        "c-gitops.yaml",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}},
        operator("httpbin", spec_of("/httpbin/", contextRef={"name": "tyk", "namespace": "ops"})),
        operator(
            "gold", {"name": "gold", "access_rights_array": [{"name": "httpbin"}]}, kind="SecurityPolicy"
        ),
        operator("fixed", {**spec_of("/fixed/"), "api_id": "fixed-id"}, namespace="shop"),
        operator("tmpl", spec_of("/tmpl/"), labels={"template": "true"}),
        operator("secret", spec_of("/secret/", certificate_secret_names=["tls"])),
        operator(
            "loop",
            spec_of("/loop/", proxy={"listen_path": "/loop/", "target_internal": {"target": {"name": "x"}}}),
        ),
        operator("typo", {"name": "typo", "proxy": {"listen_path": "/typo/", "target_url": "not-a-url"}}),
        {**operator("old", spec_of("/old/")), "apiVersion": "tyk.tyk.io/v1"},
        operator("oas", {"tykOAS": {"configmapRef": {"name": "cm"}}}, kind="TykOasApiDefinition"),
    )
    (tmp_path / "d-broken.yaml").write_text("api_id: broken\nproxy: {listen_path: /b/\n")
    write(tmp_path, "e-same-id.yaml", classic(derived_id("default", "httpbin"), "/other/"))

    result = load_dir(str(tmp_path))

    httpbin = derived_id("default", "httpbin")
    assert [s.api_id for s in result.specs] == ["plain", "golden-keyless", httpbin, "fixed-id"]
    api = result.specs[2]
    assert api.source == api.managed_by == f"{gitops} (document 2)"
    assert "contextRef" not in api.raw and api.raw["api_id"] == httpbin
    assert result.operator_apis == {
        ("default", "httpbin"): (httpbin, "httpbin"),
        ("shop", "fixed"): ("fixed-id", "fixed"),
    }
    reasons = dict(result.skipped)
    doc = f"{gitops} (document %d)"
    assert reasons[doc % 6].startswith("$.spec.certificate_secret_names: names Kubernetes Secrets")
    assert reasons[doc % 7].startswith("$.spec.proxy.target_internal: another ApiDefinition as the upstream")
    assert reasons[doc % 8].startswith(
        '$.spec.proxy.target_url: required: an absolute http:// or https:// URL, got "not-a-url"'
    )
    assert (
        reasons[doc % 9]
        == "$.apiVersion: ApiDefinition is tyk.tyk.io/v1alpha1 (Tyk Operator's), got 'tyk.tyk.io/v1'"
    )
    assert reasons[doc % 10].startswith(
        "kind TykOasApiDefinition: its OAS document is in a Kubernetes ConfigMap"
    )
    assert reasons[str(tmp_path / "d-broken.yaml")].startswith(
        "not valid YAML: while parsing a flow mapping at line 2 column 8"
    )
    same = reasons[str(tmp_path / "e-same-id.yaml")]
    assert same.startswith(f"$.api_id: duplicate {httpbin!r}") and same.endswith(f"{gitops} (document 2)")
    assert len(reasons) == 7
    lines = [r.getMessage() for r in caplog.records]
    assert [line for line in lines if "kind ConfigMap" in line] == [
        f"{doc % 1}: kind ConfigMap skipped: not an API definition"
    ]
    assert f"{doc % 5}: an Ingress template skipped: not an API definition" in lines
    assert f"{doc % 3}: SecurityPolicy skipped: policies are read from policies.policy_path" in lines


def test_a_folder_that_is_policy_path_too_leaves_its_policies_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Plain documents with an API's top-level fields are APIs; the others, and SecurityPolicy manifests,
    are the policy loader's, without a word here."""
    write(tmp_path, "a.yaml", classic("plain", "/plain/"), {"id": "gold", "rate": 1, "per": 1})
    write(tmp_path, "b.yaml", operator("gold", {"name": "gold"}, kind="SecurityPolicy"))
    (tmp_path / "c.json").write_text('{"id": "written-by-the-rest-api", "access_rights": {}}')
    result = load_dir(str(tmp_path), policy_path=str(tmp_path))
    assert [s.api_id for s in result.specs] == ["plain"] and result.skipped == ()
    assert not [r for r in caplog.records if r.name == "gateway.apidef"]
    # Elsewhere, a policy document is a broken API, named as such.
    assert [r.startswith("$.api_id: required") for _, r in load_dir(str(tmp_path)).skipped] == [True, True]


def test_operator_jwt_policy_references_are_encoded_as_operator_encodes_them(tmp_path: Path) -> None:
    jwt = {
        "use_keyless": False,
        "enable_jwt": True,
        "jwt_signing_method": "hmac",
        "jwt_source": "c2VjcmV0",
        "jwt_identity_base_field": "sub",
        "jwt_default_policies": ["default/gold", "plain-id"],
        "jwt_scope_to_policy_mapping": {"read": "shop/reader"},
    }
    write(tmp_path, "jwt.yaml", operator("jwt", spec_of("/jwt/", **jwt)))
    [spec] = load_dir(str(tmp_path)).specs
    assert spec.raw["jwt_default_policies"] == [derived_id("default", "gold"), "plain-id"]
    assert spec.raw["jwt_scope_to_policy_mapping"] == {"read": derived_id("shop", "reader")}


def test_the_documented_gitops_example_serves_its_api_and_policy(tmp_path: Path) -> None:
    """docs/apis.md's YAML example, one folder for both keys: the ids it states, the rights it grants."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "apis.md").read_text()
    [block] = re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
    (tmp_path / "gitops.yaml").write_text(block)
    result = load_dir(str(tmp_path), policy_path=str(tmp_path))
    [api] = result.specs
    assert api.api_id == "c2hvcC9odHRwYmlu" and "`c2hvcC9odHRwYmlu` above" in text
    found, errors = policies.load(
        PoliciesConfig(policy_path=str(tmp_path)), result.operator_apis, str(tmp_path)
    )
    assert errors == []
    gold = found.by_id[derived_id("shop", "gold")]
    assert dict(gold.access_rights) == {
        api.api_id: {"versions": ["Default"], "api_id": api.api_id, "api_name": "httpbin protected"}
    }
