"""Circuit breaker settings of both formats into BreakerSpecs: Classic `extended_paths.circuit_breakers`
and OAS `middleware.operations.<operationId>.circuitBreaker` (TYK-REFERENCE 7.11).

Pure: dict in, specs out. Invalid values raise ConfigError naming the file, the JSON path and the value.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.apidef.common import Reader, dig, show
from gateway.apidef.model import BreakerSpec

X = "$.x-tyk-api-gateway"
# OpenAPI path item keys that hold operations (the others are summary, parameters, servers, ...).
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def classic(r: Reader, doc: dict[str, Any]) -> tuple[BreakerSpec, ...]:
    """The breakers of the version this gateway serves, when it uses extended paths."""
    versions = dig(doc, "version_data.versions")  # its shape is features.py's business
    if not isinstance(versions, dict):
        return ()
    name = _served_version(doc, versions)
    version = versions.get(name) if name is not None else None
    if not isinstance(version, dict) or version.get("use_extended_paths") is not True:
        return ()
    extended = r.obj(version, "extended_paths", f"$.version_data.versions.{name}")
    at = f"$.version_data.versions.{name}.extended_paths"
    out: list[BreakerSpec] = []
    for i, entry in enumerate(r.items(extended, "circuit_breakers", at)):
        path = f"{at}.circuit_breakers[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(path, f"expected a circuit breaker object, got {show(entry)}")
        if r.flag(entry, "disabled", path):
            continue
        out.append(
            _spec(
                r,
                path,
                pattern=(r.text(entry, "path", path), f"{path}.path"),
                method=(r.text(entry, "method", path), f"{path}.method"),
                threshold=(r.number(entry, "threshold_percent", path), f"{path}.threshold_percent"),
                samples=(entry.get("samples"), f"{path}.samples"),
                cool_down=(entry.get("return_to_service_after"), f"{path}.return_to_service_after"),
                half_open=not r.flag(entry, "disable_half_open_state", path),
            )
        )
    return tuple(out)


def oas(r: Reader, doc: dict[str, Any], ext: dict[str, Any]) -> tuple[BreakerSpec, ...]:
    """Breakers on operations; each operationId must name an operation in the OpenAPI `paths`."""
    middleware = r.obj(ext, "middleware", X)
    operations = r.obj(middleware, "operations", f"{X}.middleware")
    out: list[BreakerSpec] = []
    located: dict[str, tuple[str, str]] | None = None
    for op_id, settings in operations.items():
        at = f"{X}.middleware.operations.{op_id}"
        if not isinstance(settings, dict):
            raise r.fail(at, f"expected an object, got {show(settings)}")
        breaker = r.obj(settings, "circuitBreaker", at)
        path = f"{at}.circuitBreaker"
        if not r.flag(breaker, "enabled", path):
            continue
        if located is None:
            located = _operations(r, doc)
        if op_id not in located:
            raise r.fail(at, f"no operation in $.paths has operationId {show(op_id)}")
        pattern, method = located[op_id]
        out.append(
            _spec(
                r,
                path,
                pattern=(pattern, f"$.paths.{pattern}"),
                method=(method, f"$.paths.{pattern}.{method.lower()}"),
                threshold=(r.number(breaker, "threshold", path), f"{path}.threshold"),
                samples=(breaker.get("sampleSize"), f"{path}.sampleSize"),
                cool_down=(breaker.get("coolDownPeriod"), f"{path}.coolDownPeriod"),
                # Tyk's OAS default is the opposite of Classic's: no half-open state unless enabled.
                half_open=r.flag(breaker, "halfOpenStateEnabled", path),
            )
        )
    return tuple(out)


def _spec(
    r: Reader,
    at: str,
    *,
    pattern: tuple[str, str],
    method: tuple[str, str],
    threshold: tuple[float, str],
    samples: tuple[Any, str],
    cool_down: tuple[Any, str],
    half_open: bool,
) -> BreakerSpec:
    """Validate one breaker; each value comes with the JSON path to name if it is wrong."""
    if not pattern[0]:
        raise r.fail(pattern[1], f"required: the path the breaker guards, got {show(pattern[0])}")
    if not method[0]:
        raise r.fail(method[1], f'required: an HTTP method such as "GET", got {show(method[0])}')
    if not 0 <= threshold[0] <= 1:
        raise r.fail(
            threshold[1], f"expected a failure ratio between 0 and 1 (0.5 = 50%), got {show(threshold[0])}"
        )
    spec = BreakerSpec(
        path=pattern[0],
        method=method[0].upper(),
        threshold=threshold[0],
        samples=_whole(r, samples, minimum=1),
        return_to_service_after=float(_whole(r, cool_down, minimum=0)),
        half_open=half_open,
    )
    try:
        spec.regex()
    except re.error as exc:
        raise r.fail(pattern[1], f"not a valid path pattern ({exc}): {show(pattern[0])}") from exc
    return spec


def _whole(r: Reader, value: tuple[Any, str], minimum: int) -> int:
    """A whole number >= minimum (Tyk's int64 fields; JSON null or absent is Go's zero)."""
    number, path = value
    number = 0 if number is None else number
    if isinstance(number, bool) or not isinstance(number, int | float) or number != int(number):
        raise r.fail(path, f"expected a whole number, got {show(number)}")
    if number < minimum:
        raise r.fail(path, f"expected a whole number >= {minimum}, got {show(number)}")
    return int(number)


def _served_version(doc: dict[str, Any], versions: dict[str, Any]) -> str | None:
    """The version whose settings are served: the only one, else `default_version`, else `Default`,
        else the first listed. Breakers of the other versions are not served (a known gap: the breaker does
    not yet select by the request's version)."""
    if len(versions) <= 1:
        return next(iter(versions), None)
    default = dig(doc, "version_data.default_version")
    if isinstance(default, str) and default in versions:
        return default
    return "Default" if "Default" in versions else next(iter(versions))


def _operations(r: Reader, doc: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """operationId -> (OpenAPI path, upper-case method), from the document's `paths`."""
    found: dict[str, tuple[str, str]] = {}
    for pattern, item in r.obj(doc, "paths", "$").items():
        for method in METHODS if isinstance(item, dict) else ():
            operation = item.get(method)
            op_id = operation.get("operationId") if isinstance(operation, dict) else None
            if isinstance(op_id, str) and op_id:
                found.setdefault(op_id, (pattern, method.upper()))
    return found
