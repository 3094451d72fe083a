"""Versioning in both formats (TYK-REFERENCE 7.10): Classic version_data/definition/expiration and OAS
info.versioning/info.expiration into VersionSpec; bad locations, dates and patterns name path and value."""

from __future__ import annotations

import calendar
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.loader import load_dir, parse
from gateway.apidef.model import VersionSpec
from gateway.errors import ConfigError
from tests.apidef.test_fields import classic, oas_doc

X = "$.x-tyk-api-gateway"
NOON = float(calendar.timegm((2030, 1, 2, 12, 30, 0)))


def test_a_definition_without_versions_is_one_implicit_version() -> None:
    assert parse(classic(), "a.json").versioning == VersionSpec()
    assert parse(oas_doc(), "o.json").versioning == VersionSpec()
    # version_data with versions but no not_versioned flag is versioned, as Go's zero value says.
    spec = parse(classic(version_data={"versions": {"v1": {}}}), "a.json")
    assert spec.versioning.not_versioned is False


def test_classic_version_data_and_definition() -> None:
    doc = classic(
        expiration="2030-01-02 12:30",
        version_data={
            "not_versioned": False,
            "default_version": "v1",
            "versions": {
                "v1": {"name": "v1", "expires": ""},
                "v2": {"name": "v2", "expires": "2030-01-02 12:30"},
                "v3": {"name": "v3", "expires": "-1"},
            },
        },
        definition={
            "location": "url",
            "key": "",
            "strip_versioning_data": True,
            "url_versioning_pattern": "^v\\d+$",
            "fallback_to_default": True,
        },
    )
    assert parse(doc, "a.json").versioning == VersionSpec(
        not_versioned=False,
        default_version="v1",
        versions={"v1": None, "v2": NOON, "v3": None},
        location="url",
        strip=True,
        url_pattern="^v\\d+$",
        fallback_to_default=True,
        api_expires=NOON,
    )


def test_classic_base_child_and_the_deprecated_strip_path() -> None:
    doc = classic(
        definition={
            "enabled": True,
            "name": "v1",
            "default": "self",
            "location": "header",
            "key": "x-api-version",
            "strip_path": True,
            "versions": {"v2": "child-2"},
        }
    )
    v = parse(doc, "a.json").versioning
    assert (v.enabled, v.name, v.default, v.location, v.key, v.strip) == (
        True,
        "v1",
        "self",
        "header",
        "x-api-version",
        True,
    )
    assert v.children == {"v2": "child-2"}


def test_oas_versioning_and_expiration() -> None:
    versioning = {
        "enabled": True,
        "name": "v1",
        "default": "v2",
        "location": "url-param",
        "key": "version",
        "versions": [{"name": "v2", "id": "child-2"}, {"name": "v3", "id": "child-3"}],
        "stripVersioningData": True,
        "urlVersioningPattern": "v.*",
        "fallbackToDefault": True,
    }
    doc = oas_doc({"info": {"expiration": "2030-01-02 12:30", "versioning": versioning}})
    spec = parse(doc, "o.json")
    assert spec.versioning == VersionSpec(
        api_expires=NOON,
        enabled=True,
        name="v1",
        default="v2",
        location="url-param",
        key="version",
        strip=True,
        url_pattern="v.*",
        fallback_to_default=True,
        children={"v2": "child-2", "v3": "child-3"},
    )
    assert spec.ignored == ()  # versioning is served now, no longer named as ignored


BAD = [
    (
        classic(definition={"location": "cookie"}),
        "$.definition.location",
        '"cookie"',
    ),
    (
        oas_doc({"info": {"versioning": {"enabled": True, "location": "body"}}}),
        f"{X}.info.versioning.location",
        '"body"',
    ),
    (
        classic(version_data={"versions": {"v1": {"expires": "next tuesday"}}}),
        "$.version_data.versions.v1.expires",
        '"next tuesday"',
    ),
    (
        classic(version_data={"versions": {"v1": {"expires": "2030-13-40 10:00"}}}),
        "$.version_data.versions.v1.expires",
        '"2030-13-40 10:00"',
    ),
    (classic(expiration="2030-01-02T12:30:00Z"), "$.expiration", '"2030-01-02T12:30:00Z"'),
    (oas_doc({"info": {"expiration": "soon"}}), f"{X}.info.expiration", '"soon"'),
    (classic(definition={"url_versioning_pattern": "v(\\d"}), "$.definition.url_versioning_pattern", "v("),
    (classic(definition={"versions": {"v2": 7}}), "$.definition.versions.v2", "7"),
    (
        oas_doc({"info": {"versioning": {"versions": ["v2"]}}}),
        f"{X}.info.versioning.versions[0]",
        '"v2"',
    ),
    (classic(version_data={"versions": {"v1": "x"}}), "$.version_data.versions.v1", '"x"'),
]


@pytest.mark.parametrize(("doc", "path", "value"), BAD)
def test_bad_versioning_names_file_path_and_value(doc: dict[str, Any], path: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(doc, "apps/v.json")
    message = str(caught.value)
    assert message.startswith("apps/v.json: " + path + ":"), message
    assert value in message


def test_a_bad_version_skips_only_that_api(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(classic(expiration="tomorrow")))
    other = classic(api_id="b", proxy={"listen_path": "/b/", "target_url": "http://127.0.0.1:8000/"})
    (tmp_path / "b.json").write_text(json.dumps(other))
    result = load_dir(str(tmp_path))
    assert [s.api_id for s in result.specs] == ["b"]
    ((file, reason),) = result.skipped
    assert file.endswith("a.json") and reason.startswith("$.expiration: ") and '"tomorrow"' in reason
