"""load_dir: each *.json in the folder is loaded or skipped with its reason and one log line, never raised."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.loader import load_dir
from gateway.errors import ConfigError


def api(api_id: str, listen: str, **extra: Any) -> str:
    return json.dumps(
        {
            "api_id": api_id,
            "use_keyless": True,
            "proxy": {"listen_path": listen, "target_url": "http://127.0.0.1:8000/"},
            **extra,
        }
    )


def test_each_file_loads_or_is_skipped_with_its_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = {
        "a-good.json": api("good", "/good/"),
        "b-broken.json": '{"api_id": "b", "proxy": ',
        "c-list.json": "[1, 2]",
        "d-relative.json": api("d", "/d/", proxy={"listen_path": "/d/", "target_url": "not-a-url"}),
        "e-jwt.json": api("e", "/e/", use_oauth2=True),
        "f-same-id.json": api("good", "/f/"),
        "g-same-path.json": api("g", "/good/"),
        "h-other-domain.json": api("h", "/good/", domain="api.example.com"),
        "i-ignored.json": api("i", "/i/", CORS={"enable": True}),
        "notes.txt": "not a definition",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "j-latin1.json").write_bytes(b'{"name": "caf\xe9"}')
    (tmp_path / "k-folder.json").mkdir()
    caplog.set_level(logging.INFO, logger="gateway.apidef")

    result = load_dir(str(tmp_path))

    assert [s.api_id for s in result.specs] == ["good", "h", "i"]
    assert result.specs[0].source == str(tmp_path / "a-good.json")
    reasons = {Path(file).name: reason for file, reason in result.skipped}
    assert list(reasons) == [
        "b-broken.json",
        "c-list.json",
        "d-relative.json",
        "e-jwt.json",
        "f-same-id.json",
        "g-same-path.json",
        "j-latin1.json",
    ]
    assert reasons["b-broken.json"].startswith("not valid JSON: Expecting value at line 1 column 26")
    assert reasons["c-list.json"].startswith("$: expected a JSON object, got list")
    assert "$.proxy.target_url" in reasons["d-relative.json"] and '"not-a-url"' in reasons["d-relative.json"]
    assert reasons["e-jwt.json"].startswith("$.use_oauth2: OAuth 2.0 is not supported")
    assert "'good'" in reasons["f-same-id.json"] and "a-good.json" in reasons["f-same-id.json"]
    assert "/good/" in reasons["g-same-path.json"] and "a-good.json" in reasons["g-same-path.json"]
    assert reasons["j-latin1.json"].startswith("not UTF-8")

    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.apidef"]
    assert len(lines) == len(result.skipped) + 1
    for name, reason in reasons.items():
        assert sum(name in line and reason in line for line in lines) == 1
    assert any("i-ignored.json" in line and "CORS" in line for line in lines)


def test_an_empty_folder_loads_nothing_and_a_missing_one_is_a_config_error(tmp_path: Path) -> None:
    assert load_dir(str(tmp_path)).specs == () and load_dir(str(tmp_path)).skipped == ()
    with pytest.raises(ConfigError) as info:
        load_dir(str(tmp_path / "nope"))
    assert "not a directory" in str(info.value) and "nope" in str(info.value)
