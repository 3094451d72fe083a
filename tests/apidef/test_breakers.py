"""Circuit breaker settings, Classic and OAS: the BreakerSpecs, which version is read, what is no longer
reported as ignored, and a ConfigError naming the file, the JSON path and the value for bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.loader import load_dir, parse
from gateway.apidef.model import BreakerSpec
from gateway.errors import ConfigError

Doc = dict[str, Any]
X = "$.x-tyk-api-gateway"
CB = "$.version_data.versions.Default.extended_paths.circuit_breakers"


def entry(**kw: Any) -> Doc:
    base = {
        "path": "/status/{code}",
        "method": "get",
        "threshold_percent": 0.5,
        "samples": 5,
        "return_to_service_after": 10,
        "disable_half_open_state": False,
    }
    return base | kw


def classic(*entries: Doc, versions: Doc | None = None, **top: Any) -> Doc:
    default = {
        "name": "Default",
        "use_extended_paths": True,
        "extended_paths": {"circuit_breakers": list(entries)},
    }
    return {
        "api_id": "a",
        "use_keyless": True,
        "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:1/"},
        "version_data": {"not_versioned": True, "versions": versions or {"Default": default}},
    } | top


def oas(breakers: Doc, paths: Doc | None = None) -> Doc:
    return {
        "openapi": "3.0.3",
        "info": {"title": "o", "version": "1"},
        "paths": paths
        if paths is not None
        else {
            "/status/{code}": {"parameters": [], "get": {"operationId": "status"}},
            "/items": {"post": {"operationId": "addItem"}},
        },
        "x-tyk-api-gateway": {
            "info": {"id": "o", "name": "o", "state": {"active": True}},
            "server": {"listenPath": {"value": "/o/"}},
            "upstream": {"url": "http://127.0.0.1:1/"},
            "middleware": {"operations": {op: {"circuitBreaker": cb} for op, cb in breakers.items()}},
        },
    }


def cb(**kw: Any) -> Doc:
    return {"enabled": True, "threshold": 0.25, "sampleSize": 3, "coolDownPeriod": 7} | kw


def test_classic_entries() -> None:
    spec = parse(
        classic(
            entry(),
            entry(path="/off", disabled=True),
            entry(path=".*", method="POST", disable_half_open_state=True),
        ),
        "a.json",
    )
    assert spec.breakers == (
        BreakerSpec("/status/{code}", "GET", 0.5, 5, 10.0, half_open=True),
        BreakerSpec(".*", "POST", 0.5, 5, 10.0, half_open=False),
    )
    assert spec.ignored == ()


def test_classic_reads_only_extended_paths_of_the_served_version() -> None:
    v1 = {"use_extended_paths": True, "extended_paths": {"circuit_breakers": [entry(path="/v1")]}}
    v2 = {"use_extended_paths": True, "extended_paths": {"circuit_breakers": [entry(path="/v2")]}}
    off = {"use_extended_paths": False, "extended_paths": {"circuit_breakers": [entry()]}}
    doc = classic(versions={"v1": v1, "v2": v2})
    doc["version_data"] |= {"not_versioned": False, "default_version": "v2"}
    assert [b.path for b in parse(doc, "a.json").breakers] == ["/v2"]
    doc["version_data"]["default_version"] = ""
    assert [b.path for b in parse(doc, "a.json").breakers] == ["/v1"]  # none named: the first
    assert parse(classic(versions={"Default": off}), "a.json").breakers == ()


def test_oas_operations_take_path_and_method_from_paths() -> None:
    spec = parse(
        oas({"status": cb(), "addItem": cb(halfOpenStateEnabled=True), "gone": cb(enabled=False)}), "o.json"
    )
    assert spec.breakers == (
        BreakerSpec("/status/{code}", "GET", 0.25, 3, 7.0, half_open=False),  # Tyk's OAS default
        BreakerSpec("/items", "POST", 0.25, 3, 7.0, half_open=True),
    )
    assert spec.ignored == ()


def test_patterns_match_below_the_listen_path() -> None:
    regex = BreakerSpec("/status/{code}", "GET", 0.5, 1, 0).regex()
    assert regex.match("/status/500") and regex.match("/status/500/x")
    assert not regex.match("/status/") and not regex.match("/x/status/500")
    assert BreakerSpec(".*", "GET", 0.5, 1, 0).regex().match("/anything")


@pytest.mark.parametrize(
    ("change", "path", "shown"),
    [
        ({"threshold_percent": 1.5}, f"{CB}[0].threshold_percent", "1.5"),
        ({"threshold_percent": -0.1}, f"{CB}[0].threshold_percent", "-0.1"),
        ({"threshold_percent": "half"}, f"{CB}[0].threshold_percent", '"half"'),
        ({"samples": 0}, f"{CB}[0].samples", "0"),
        ({"samples": -3}, f"{CB}[0].samples", "-3"),
        ({"samples": 2.5}, f"{CB}[0].samples", "2.5"),
        ({"return_to_service_after": -1}, f"{CB}[0].return_to_service_after", "-1"),
        ({"path": ""}, f"{CB}[0].path", '""'),
        ({"path": "/a/(["}, f"{CB}[0].path", '"/a/(["'),
        ({"method": ""}, f"{CB}[0].method", '""'),
    ],
)
def test_classic_errors_name_path_and_value(change: Doc, path: str, shown: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(classic(entry(), entry(**change)), "bad.json")
    message = str(err.value)
    assert message.startswith(f"bad.json: {path.replace('[0]', '[1]')}: ") and shown in message


@pytest.mark.parametrize(
    ("change", "path", "shown"),
    [
        ({"threshold": 2}, "threshold", "2"),
        ({"sampleSize": 0}, "sampleSize", "0"),
        ({"sampleSize": None}, "sampleSize", "0"),
        ({"coolDownPeriod": -5}, "coolDownPeriod", "-5"),
        ({"coolDownPeriod": "10s"}, "coolDownPeriod", '"10s"'),
    ],
)
def test_oas_errors_name_path_and_value(change: Doc, path: str, shown: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse(oas({"status": cb(**change)}), "bad.json")
    message = str(err.value)
    assert message.startswith(f"bad.json: {X}.middleware.operations.status.circuitBreaker.{path}: ")
    assert shown in message


def test_an_unknown_operation_id_is_an_error() -> None:
    with pytest.raises(ConfigError) as err:
        parse(oas({"nowhere": cb()}), "bad.json")
    assert str(err.value) == (
        f'bad.json: {X}.middleware.operations.nowhere: no operation in $.paths has operationId "nowhere"'
    )


def test_a_bad_breaker_skips_only_its_api(tmp_path: Path) -> None:
    good, bad = classic(entry()), copy.deepcopy(classic(entry(samples=0)))
    bad["api_id"], bad["proxy"]["listen_path"] = "b", "/b/"
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    result = load_dir(str(tmp_path))
    assert [s.api_id for s in result.specs] == ["a"]
    (skipped,) = result.skipped
    assert "bad.json" in str(skipped) and f"{CB}[0].samples" in str(skipped)
