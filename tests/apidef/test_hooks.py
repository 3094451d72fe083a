"""Python request hooks parsed from both formats: stages, disabled entries, other drivers, bad entries."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.apidef import classic, oas
from gateway.apidef.model import HookSpec
from gateway.errors import ConfigError


def classic_doc(custom: dict[str, Any]) -> dict[str, Any]:
    return {
        "api_id": "a",
        "use_keyless": True,
        "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:9/"},
        "custom_middleware": custom,
    }


def oas_doc(middleware: dict[str, Any]) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "a", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": "a", "name": "a", "state": {"active": True}},
            "server": {"listenPath": {"value": "/a/"}},
            "upstream": {"url": "http://127.0.0.1:9/"},
            "middleware": {"global": middleware},
        },
    }


def test_classic_stages_in_order_without_disabled_ones() -> None:
    custom = {
        "driver": "python",
        "pre": [{"name": "one", "path": "h.py"}, {"name": "off", "path": "h.py", "disabled": True}],
        "post_key_auth": [{"name": "two", "path": "h.py", "timeout": 2}],
        "post": [{"name": "three", "path": "h.py"}],
    }
    spec = classic.parse(classic_doc(custom), "a.json")
    assert [(h.stage, h.name, h.timeout) for h in spec.hooks] == [
        ("pre", "one", 5.0),
        ("post_key_auth", "two", 2.0),
        ("post", "three", 5.0),
    ]
    assert not any("custom_middleware" in label for label in spec.ignored)


def test_oas_lists_and_the_single_plugin_form() -> None:
    middleware = {
        "pluginConfig": {"driver": "python"},
        "prePlugins": [{"enabled": True, "functionName": "one", "path": "h.py"}],
        "postPlugin": {"enabled": True, "functionName": "two", "path": "h.py"},
        "postAuthenticationPlugins": [{"enabled": False, "functionName": "off", "path": "h.py"}],
    }
    spec = oas.parse(oas_doc(middleware), "a.json")
    assert spec.hooks == (
        HookSpec("pre", "one", "h.py", "a.json $.x-tyk-api-gateway.middleware.global.prePlugins[0]"),
        HookSpec("post", "two", "h.py", "a.json $.x-tyk-api-gateway.middleware.global.postPlugin"),
    )


def test_other_drivers_give_no_hooks_and_are_named_as_ignored() -> None:
    spec = classic.parse(classic_doc({"driver": "otto", "pre": [{"name": "x", "path": "x.js"}]}), "a.json")
    assert spec.hooks == () and "custom_middleware.pre" in spec.ignored


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"path": "h.py"}, r"\$\.custom_middleware\.pre\[0\]\.name"),
        ({"name": "x"}, r"\$\.custom_middleware\.pre\[0\]\.path"),
        ({"name": "x", "path": "h.py", "timeout": 0}, r"\$\.custom_middleware\.pre\[0\]\.timeout"),
        ("x", r"\$\.custom_middleware\.pre\[0\]"),
    ],
)
def test_bad_entries_name_the_field(entry: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        classic.parse(classic_doc({"driver": "python", "pre": [entry]}), "a.json")
