"""gateway.manifests: JSON and YAML files read into documents (errors naming the file, the document and
the line), YAML meaning what the same JSON means, the Operator envelope checked, and Operator's ids."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml

from gateway import manifests
from gateway.errors import ConfigError

OPERATOR_API = """\
apiVersion: tyk.tyk.io/v1alpha1
kind: ApiDefinition
metadata:
  name: httpbin
  namespace: shop
  labels: {team: a}
spec:
  name: httpbin
"""


def test_a_yaml_file_gives_each_document_and_a_json_file_one(tmp_path: Path) -> None:
    many = tmp_path / "many.yaml"
    many.write_text("a: 1\n---\n# only a comment\n---\nb: 2\n...\n")
    one = tmp_path / "one.yml"
    one.write_text("c: 3\n")
    plain = tmp_path / "plain.json"
    plain.write_text('{"d": 4}')
    assert manifests.documents(str(many)) == [
        (f"{many} (document 1)", {"a": 1}),
        (f"{many} (document 3)", {"b": 2}),  # the third in the file: the empty one is counted
    ]
    assert manifests.documents(str(one)) == [(str(one), {"c": 3})]
    assert manifests.documents(str(plain)) == [(str(plain), {"d": 4})]
    (tmp_path / "folder.yaml").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    assert manifests.file_names(str(tmp_path)) == [str(many), str(one), str(plain)]


def test_a_kubectl_list_gives_each_item(tmp_path: Path) -> None:
    listed = tmp_path / "exported.yaml"
    listed.write_text("apiVersion: v1\nkind: List\nitems:\n- {a: 1}\n- {b: 2}\n")
    assert manifests.documents(str(listed)) == [
        (f"{listed} items[0]", {"a": 1}),
        (f"{listed} items[1]", {"b": 2}),
    ]


def test_yaml_means_what_the_same_json_means(tmp_path: Path) -> None:
    """Timestamps stay text and keys become strings, as Kubernetes' YAML-to-JSON step leaves them."""
    file = tmp_path / "a.yaml"
    file.write_text(
        "expires: 2030-01-02\nat: 2030-01-02 03:04:05\nversions: {1: {name: '1'}, false: x}\n"
        "base: &b {rate: 2}\ncopy: *b\nflags: [yes, no, on]\n"
    )
    [(_, value)] = manifests.documents(str(file))
    assert value == {
        "expires": "2030-01-02",
        "at": "2030-01-02 03:04:05",
        "versions": {"1": {"name": "1"}, "false": "x"},
        "base": {"rate": 2},
        "copy": {"rate": 2},
        "flags": [True, False, True],  # YAML 1.1, as Kubernetes reads it too
    }


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        (
            "bad.yaml",
            "a: 1\nb: [1, 2\nc: 3\n",
            "not valid YAML: while parsing a flow sequence at line 2 column 4",
        ),
        (
            "tab.yml",
            "a:\n\tb: 1\n",
            "not valid YAML: while scanning for the next token: found character '\\t' that cannot start "
            "any token at line 2 column 1",
        ),
        (
            "code.yaml",
            "a: !!python/object:os.system x\n",
            "not valid YAML: could not determine a constructor",
        ),
        ("bad.json", '{"a": }', "not valid JSON: Expecting value at line 1 column 7"),
    ],
)
def test_a_file_that_does_not_parse_is_named_with_the_line(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        manifests.documents(str(file))
    assert info.value.where == str(file) and info.value.reason.startswith(reason), info.value.reason


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        manifests.documents(str(latin))
    with pytest.raises(ConfigError, match="cannot read the file"):
        manifests.documents(str(tmp_path / "gone.yaml"))
    two = tmp_path / "record.yaml"
    two.write_text("a: 1\n---\nb: 2\n")
    with pytest.raises(ConfigError, match="expected one document, found 2"):
        manifests.read_one(str(two))
    record = tmp_path / "record.yml"
    record.write_text("gold: {rate: 2}\n")
    assert manifests.read_one(str(record)) == {"gold": {"rate": 2}}


def test_the_operator_envelope() -> None:
    found = manifests.manifest("f.yaml", yaml.safe_load(OPERATOR_API))
    assert found is not None
    assert (found.kind, found.namespace, found.name, dict(found.spec), dict(found.labels)) == (
        "ApiDefinition",
        "shop",
        "httpbin",
        {"name": "httpbin"},
        {"team": "a"},
    )
    # A plain Tyk definition has no envelope; another kind is returned for the loaders to skip by name.
    assert manifests.manifest("f", {"api_id": "a", "kind": "x"}) is None
    other = manifests.manifest("f", {"apiVersion": "v1", "kind": "ConfigMap"})
    assert other is not None and other.kind == "ConfigMap"
    bare = manifests.manifest(
        "f",
        {
            "apiVersion": manifests.API_VERSION,
            "kind": "SecurityPolicy",
            "metadata": {"name": "p"},
            "spec": {},
        },
    )
    assert bare is not None and bare.namespace == "default"  # kubectl's namespace when none is written


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        (
            {"apiVersion": "tyk.io/v1alpha1", "kind": "ApiDefinition"},
            "$.apiVersion: ApiDefinition is tyk.tyk.io/v1alpha1",
        ),
        (
            {"apiVersion": "tyk.tyk.io/v1", "kind": "SecurityPolicy"},
            "$.apiVersion: SecurityPolicy is tyk.tyk.io/v1alpha1",
        ),
        ({"apiVersion": 1, "kind": "ApiDefinition"}, "$.apiVersion and $.kind: expected strings"),
        (
            {"apiVersion": manifests.API_VERSION, "kind": "ApiDefinition", "spec": {}},
            "$.metadata.name: required",
        ),
        (
            {"apiVersion": manifests.API_VERSION, "kind": "ApiDefinition", "metadata": {"name": "a"}},
            "$.spec: required",
        ),
        (
            {
                "apiVersion": manifests.API_VERSION,
                "kind": "ApiDefinition",
                "metadata": {"name": "a", "namespace": 3},
                "spec": {},
            },
            "$.metadata: namespace must be a string",
        ),
    ],
)
def test_a_malformed_operator_manifest_is_refused_naming_the_field(
    doc: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigError) as info:
        manifests.manifest("f.yaml (document 2)", doc)
    assert info.value.where == "f.yaml (document 2)" and info.value.reason.startswith(reason)


def test_operator_ids() -> None:
    """Operator's encodeNS: base64.RawURLEncoding of "namespace/name"; encodeIfNotBase64 for references."""
    assert manifests.derived_id("default", "httpbin") == "ZGVmYXVsdC9odHRwYmlu"
    odd = manifests.derived_id("ns", "a?>")
    assert "=" not in odd and base64.urlsafe_b64decode(odd + "=" * (-len(odd) % 4)) == b"ns/a?>"
    assert manifests.encoded_reference("default/gold") == manifests.derived_id("default", "gold")
    assert manifests.encoded_reference("ZGVmYXVsdC9nb2xk") == "ZGVmYXVsdC9nb2xk"  # an id already
    assert manifests.encoded_reference("gold") == "gold"  # Go's decoder takes it, so Operator keeps it
    assert manifests.encoded_reference("gold.v2") == "Z29sZC52Mg"  # "." is not base64: encoded


def test_a_spec_error_is_rebased_under_spec() -> None:
    rebased = manifests.spec_path(ConfigError("f", "$.proxy.listen_path: bad"), "f (document 2)")
    assert (rebased.where, rebased.reason) == ("f (document 2)", "$.spec.proxy.listen_path: bad")
    assert manifests.spec_path(ConfigError("f", "no path"), "f").reason == "no path"


@pytest.mark.parametrize(
    ("name", "text", "shown"),
    [
        (
            "big.json",
            '{"api_id": "a", "config_data": {"n": 1e999}}',
            "$.config_data.n: expected a finite number, got Infinity",
        ),
        (
            "inf.yaml",
            "api_id: a\nconfig_data:\n  list: [1, -.inf]\n",
            "$.config_data.list[1]: expected a finite number, got -Infinity",
        ),
    ],
)
def test_a_number_go_cannot_hold_is_refused_naming_it(
    tmp_path: Path, name: str, text: str, shown: str
) -> None:
    """1e999 (JSON) or .inf (YAML) would load as infinity and make every later read of the object a 500."""
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(shown)):
        manifests.documents(str(path))
