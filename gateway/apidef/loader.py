"""The entry points for API definitions: `parse` tells Classic from OAS, `load_dir` reads Tyk's app_path.

A bad file skips that API only, with one log line saying why; it never raises past `load_dir` and
never serves half a definition. This module reads files; it must not touch the network or the store.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from gateway.apidef import classic, oas
from gateway.apidef.model import APISpec
from gateway.errors import ConfigError
from gateway.log import get_logger

log = get_logger("apidef")


@dataclass(frozen=True, slots=True)
class LoadResult:
    specs: tuple[APISpec, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (file, reason)


def parse(raw: Any, where: str) -> APISpec:
    """One definition: OAS when it has both `openapi` and `x-tyk-api-gateway`, Classic otherwise."""
    if isinstance(raw, dict):
        has_ext, has_openapi = "x-tyk-api-gateway" in raw, "openapi" in raw
        if has_ext and has_openapi:
            return oas.parse(raw, where)
        # Half an OAS document would otherwise fail on a Classic field, which would mislead the reader.
        if has_openapi:
            raise ConfigError(
                where,
                "$.x-tyk-api-gateway: required in an OpenAPI document to serve it "
                "(listen path, upstream), but missing",
            )
        if has_ext:
            raise ConfigError(where, "$.openapi: required next to x-tyk-api-gateway, but missing")
    return classic.parse(raw, where)


def read_json(path: str) -> Any:
    """The file's JSON value; ConfigError saying what is wrong with the file otherwise."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(path, f"cannot read the file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(path, f"not UTF-8 text (byte {exc.start})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise ConfigError(path, "not valid JSON: nested too deeply") from None


def load_dir(path: str) -> LoadResult:
    """Every `*.json` directly in `path`, in name order. Duplicates of an api_id or of a (domain, listen
    path) already loaded are skipped, naming both files. ConfigError only if `path` is not a folder."""
    if not os.path.isdir(path):
        raise ConfigError(path, "app_path: not a directory")
    specs: list[APISpec] = []
    skipped: list[tuple[str, str]] = []
    by_id: dict[str, str] = {}
    by_route: dict[tuple[str, str], str] = {}
    for name in sorted(os.listdir(path)):
        file = os.path.join(path, name)
        if not name.endswith(".json") or os.path.isdir(file):
            continue
        try:
            spec = parse(read_json(file), file)
            route = (spec.domain.lower(), spec.listen_path)
            if spec.api_id in by_id:
                raise ConfigError(
                    file, f"$.api_id: duplicate {spec.api_id!r}, already loaded from {by_id[spec.api_id]}"
                )
            if route in by_route:
                shown = f"{spec.domain or '(any domain)'} {spec.listen_path}"
                raise ConfigError(
                    file, f"duplicate listen path {shown!r}, already loaded from {by_route[route]}"
                )
        except ConfigError as exc:
            log.warning("skipped %s: %s", file, exc.reason)
            skipped.append((file, exc.reason))
            continue
        by_id[spec.api_id] = by_route[route] = file
        specs.append(spec)
        if spec.ignored:
            log.warning(
                "%s: API %r loaded without these unsupported features: %s",
                file,
                spec.api_id,
                ", ".join(spec.ignored),
            )
    return LoadResult(tuple(specs), tuple(skipped))
