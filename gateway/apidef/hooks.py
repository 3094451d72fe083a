"""Python request hooks of both formats into HookSpecs: Classic `custom_middleware` and OAS
`middleware.global.{pre,postAuthentication,post}Plugins`, when the plugin driver is `python`.

Pure: dict in, specs out (the files are imported when routes are built, by chain/hooks.py). Other drivers
yield no hooks here; features.py names them as ignored, as before.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, dig, show
from gateway.apidef.model import HookSpec

X = "$.x-tyk-api-gateway"
CLASSIC_STAGES = ("pre", "post_key_auth", "post")
# OAS list key (and its older single-plugin key) -> our stage.
OAS_STAGES = (
    ("prePlugins", "prePlugin", "pre"),
    ("postAuthenticationPlugins", "postAuthenticationPlugin", "post_key_auth"),
    ("postPlugins", "postPlugin", "post"),
)


def classic(r: Reader, doc: dict[str, Any]) -> tuple[HookSpec, ...]:
    custom = r.obj(doc, "custom_middleware", "$")
    if custom.get("driver") != "python":
        return ()
    out: list[HookSpec] = []
    for stage in CLASSIC_STAGES:
        for i, entry in enumerate(r.items(custom, stage, "$.custom_middleware")):
            at = f"$.custom_middleware.{stage}[{i}]"
            if not isinstance(entry, dict):
                raise r.fail(at, f"expected a hook object, got {show(entry)}")
            if entry.get("disabled") is True:
                continue
            out.append(_hook(r, stage, entry.get("name"), entry.get("path"), at, entry.get("timeout")))
    return tuple(out)


def oas(r: Reader, ext: dict[str, Any]) -> tuple[HookSpec, ...]:
    if dig(ext, "middleware.global.pluginConfig.driver") != "python":
        return ()
    scope = dig(ext, "middleware.global")
    out: list[HookSpec] = []
    for many, one, stage in OAS_STAGES:
        entries = list(r.items(scope, many, f"{X}.middleware.global"))
        single = scope.get(one)
        paths = [f"{X}.middleware.global.{many}[{i}]" for i in range(len(entries))]
        if isinstance(single, dict):
            entries.append(single)
            paths.append(f"{X}.middleware.global.{one}")
        for entry, at in zip(entries, paths, strict=True):
            if not isinstance(entry, dict):
                raise r.fail(at, f"expected a plugin object, got {show(entry)}")
            if entry.get("enabled") is not True:
                continue
            out.append(
                _hook(r, stage, entry.get("functionName"), entry.get("path"), at, entry.get("timeout"))
            )
    return tuple(out)


def _hook(r: Reader, stage: str, name: Any, path: Any, at: str, timeout: Any) -> HookSpec:
    if not isinstance(name, str) or not name:
        raise r.fail(f"{at}.name", f"required: the hook function's name, got {show(name)}")
    if not isinstance(path, str) or not path:
        raise r.fail(f"{at}.path", f"required: the Python file, got {show(path)}")
    if timeout is None:
        timeout = 5.0
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise r.fail(f"{at}.timeout", f"expected seconds above 0 and at most 60, got {show(timeout)}")
    return HookSpec(stage=stage, name=name, path=path, where=f"{r.where} {at}", timeout=float(timeout))
