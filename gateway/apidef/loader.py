"""The entry points for API definitions: `parse` tells Classic from OAS, `load_dir` reads Tyk's app_path
(JSON and YAML files, and Tyk Operator ApiDefinition manifests among their documents).

A bad file or document skips that API only, with one log line saying why; it never raises past `load_dir`
and never serves half a definition. This module reads files; it must not touch the network or the store.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway import manifests
from gateway.apidef import classic, oas, operator
from gateway.apidef.model import APISpec
from gateway.errors import ConfigError
from gateway.log import get_logger

log = get_logger("apidef")


@dataclass(frozen=True, slots=True)
class LoadResult:
    specs: tuple[APISpec, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (file, reason)
    # Each loaded ApiDefinition manifest by (namespace, name): (api_id, name), what a SecurityPolicy's
    # access_rights_array resolves against, as Operator resolves it against the cluster.
    operator_apis: Mapping[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


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


def load_dir(path: str, policy_path: str = "") -> LoadResult:
    """Every definition file directly in `path` (`*.json`, `*.yaml`, `*.yml`), in name order, each document
    of a YAML file one definition; when `path` is also the `policy_path`, policies in it are left to the
    policy loader. Duplicates of an api_id or of a (domain, listen path) already loaded are skipped, naming
    both files. ConfigError only if `path` is not a folder."""
    shared = manifests.same_folder(path, policy_path)
    if not os.path.isdir(path):
        raise ConfigError(path, "app_path: not a directory")
    specs: list[APISpec] = []
    skipped: list[tuple[str, str]] = []
    by_id: dict[str, str] = {}
    by_route: dict[tuple[str, str], str] = {}
    named: dict[tuple[str, str], tuple[str, str]] = {}
    for file in manifests.file_names(path):
        try:
            found = manifests.documents(file)
        except ConfigError as exc:
            log.warning("skipped %s: %s", file, exc.reason)
            skipped.append((file, exc.reason))
            continue
        for where, value in found:
            try:
                kept = _definition(where, value, shared)
                if kept is None:
                    continue
                spec, resource = kept
                route = (spec.domain.lower(), spec.listen_path)
                if spec.api_id in by_id:
                    raise ConfigError(
                        where,
                        f"$.api_id: duplicate {spec.api_id!r}, already loaded from {by_id[spec.api_id]}",
                    )
                if route in by_route:
                    shown = f"{spec.domain or '(any domain)'} {spec.listen_path}"
                    raise ConfigError(
                        where, f"duplicate listen path {shown!r}, already loaded from {by_route[route]}"
                    )
            except ConfigError as exc:
                log.warning("skipped %s: %s", where, exc.reason)
                skipped.append((where, exc.reason))
                continue
            by_id[spec.api_id] = by_route[route] = where
            if resource is not None:
                named[resource] = (spec.api_id, spec.name)
            specs.append(spec)
            if spec.ignored:
                log.warning(
                    "%s: API %r loaded without these unsupported features: %s",
                    where,
                    spec.api_id,
                    ", ".join(spec.ignored),
                )
    return LoadResult(tuple(specs), tuple(skipped), named)


def _definition(where: str, value: Any, shared: bool) -> tuple[APISpec, tuple[str, str] | None] | None:
    """One document as an API (and its Operator (namespace, name)), None for a document that is not an
    API (logged, unless a policy in a folder that is also policy_path); ConfigError for one that cannot
    be served."""
    found = manifests.manifest(where, value)
    if found is None and shared and not manifests.is_api(value):
        return None  # a policy: the policy loader reads it
    if found is None:
        spec = parse(value, where)
        managed = where if not where.endswith(".json") else ""  # a YAML file, or one of its documents
        return dataclasses.replace(spec, managed_by=managed), None
    if found.kind == manifests.POLICY:
        if not shared:
            log.warning("%s: SecurityPolicy skipped: policies are read from policies.policy_path", where)
        return None
    if found.kind != manifests.API or operator.is_template(found):
        if reason := operator.refusal(found):
            raise ConfigError(where, reason)
        shown = "an Ingress template" if found.kind == manifests.API else f"kind {found.kind}"
        log.warning("%s: %s skipped: not an API definition", where, shown)
        return None
    raw = operator.classic(found)  # its own errors name $.spec already
    try:
        spec = parse(raw, where)
    except ConfigError as exc:
        raise manifests.spec_path(exc, where) from None
    return dataclasses.replace(spec, managed_by=where), (found.namespace, found.name)
