"""tyk.conf keys this gateway does not read: warned once each with a close match, or named as Tyk
settings it ignores; never an error. Tyk's key list (config_keys.TYK_KEYS) is checked against our sections."""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import typing
from pathlib import Path
from typing import Any

import pytest

from gateway.config import keys as config_keys
from gateway.config import model as config

EXAMPLE = Path(str(importlib.resources.files("gateway") / "examples" / "tyk.conf.example"))


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "tyk.conf"
    path.write_text(json.dumps(data))
    return path


def test_unknown_and_ignored_keys_are_warned_once_each(tmp_path: Path) -> None:
    raw = {
        "listen_prot": 8080,
        "storage": {"hsot": "redis.local", "compress_policies": True, "optimisation_max_idle": 0},
        "enable_analytics": True,
        "enable_jsvm": False,
        "Monitor": {"enable_trigger_monitors": True},
        "zzzz": 1,
    }
    path = write(tmp_path, raw)
    warnings: list[str] = []
    config.load(path, environ={}, warn=warnings.append)
    assert warnings == [
        f'{path}: unknown key "listen_prot" (did you mean "listen_port"?)',
        f'{path}: unknown key "storage.hsot" (did you mean "storage.host"?)',
        f'{path}: key "storage.compress_policies" is a Tyk setting this gateway ignores',
        f'{path}: key "enable_analytics" is a Tyk setting this gateway ignores',
        # Tyk (Go's JSON) matches keys case-insensitively; here the key would silently do nothing.
        f'{path}: unknown key "Monitor" (did you mean "monitor"?)',
        f'{path}: unknown key "zzzz"',
    ]


def test_without_a_warn_callback_unread_keys_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, {"listen_prot": 8080})
    config.load(path, environ={})
    assert [r.getMessage() for r in caplog.records if r.name == "gateway.config"] == [
        f'{path}: unknown key "listen_prot" (did you mean "listen_port"?)'
    ]


def test_every_key_of_the_shipped_example_is_read_by_this_gateway() -> None:
    warnings: list[str] = []
    config.load(EXAMPLE, environ={}, warn=warnings.append)
    assert warnings == []
    # Stricter than the warnings (which pass over zero-valued Tyk keys): every key is a Config field.
    assert _unread(json.loads(EXAMPLE.read_text()), config.Config) == []


def test_tyk_key_sections_are_sections_of_this_config() -> None:
    for section, keys in config_keys.TYK_KEYS.items():
        cls: type[Any] = config.Config
        for part in filter(None, section.split(".")):
            cls = typing.get_type_hints(cls)[part]
            assert dataclasses.is_dataclass(cls), section
        ours = {f.name for f in dataclasses.fields(cls)}
        # Our names for Tyk's settings are Tyk's: a section shares keys with Tyk's, or it is misfiled.
        assert ours & keys, section


def _unread(raw: dict[str, Any], cls: type[Any], prefix: str = "") -> list[str]:
    hints = typing.get_type_hints(cls)
    found: list[str] = []
    for key, value in raw.items():
        if key not in hints or key == "config_dir":
            found.append(prefix + key)
        elif dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            found += _unread(value, hints[key], f"{prefix}{key}.")
    return found
