"""What the Classic and OAS parsers share: typed access to raw JSON that fails with the file, the JSON
path and the value; Tyk's duration strings; the listen path, target URL and rate checks.

Pure: no I/O and no logging; it may import only gateway.errors and gateway.apidef.model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from gateway.apidef.model import AuthTokenSpec, RateSpec
from gateway.errors import ConfigError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Longer units first, so that "ms" is never read as minutes followed by a stray "s".
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def show(value: Any) -> str:
    """A value as it would appear in the JSON file, cut short so one message stays one line."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def switched_on(value: Any) -> bool:
    """Present and on. Tyk files carry many false, zero and empty fields that mean "off": an object is on
    when any of its values is, a list when any entry is not marked `"disabled": true`."""
    if isinstance(value, dict):
        return any(switched_on(v) for v in value.values())
    if isinstance(value, list):
        return any(not (isinstance(e, dict) and e.get("disabled") is True) for e in value)
    return value not in (None, False, 0, "")


def dig(doc: Any, dotted: str) -> Any:
    """The value at a dotted path, or None when any step is missing or not an object (lenient on purpose:
    it only looks at features this gateway does not implement, whose shape is not its business)."""
    for part in dotted.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)
    return doc


def parse_duration(text: str) -> float | None:
    """Seconds in a Go `time.ParseDuration` string ("10s", "1m30s", "1.5h", "500ms"), or None if invalid."""
    body = text[1:] if text[:1] in ("+", "-") else text
    sign = -1.0 if text[:1] == "-" else 1.0
    if body == "0":
        return 0.0
    if not body:
        return None
    total, pos = 0.0, 0
    while pos < len(body):
        match = _PART.match(body, pos)
        if match is None:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return sign * total


class Reader:
    """Typed reads from one definition. JSON null counts as absent (Go decodes it to the zero value);
    a wrong type is a ConfigError naming the file, the JSON path and the value, as Tyk refuses to load it."""

    __slots__ = ("calls", "where")

    def __init__(self, where: str) -> None:
        self.where = where
        self.calls: list[tuple[str, str]] = []  # (JSON path, URL): see `call`

    def call(self, path: str, url: str) -> None:
        """Note a URL the gateway will call on its own for this API (an uptime check, a JWKS endpoint, a
        token URL), for the outbound policy to vet at load; only what the API uses is noted."""
        self.calls.append((path, url))

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.where, f"{path}: {message}")

    def unsupported(self, path: str, what: str, value: Any = True) -> ConfigError:
        return self.fail(
            path,
            f"{what} is not supported by this gateway (got {show(value)}); the API is "
            "skipped rather than served without it",
        )

    def root(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail("$", f"expected a JSON object, got {type(raw).__name__} {show(raw)}")
        return raw

    def _get(
        self, parent: Mapping[str, Any], key: str, path: str, kind: type | tuple[type, ...], expected: str
    ) -> Any:
        value = parent.get(key)
        # bool is an int in Python, but not in JSON: a flag must be a bool, and a number must not be one.
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool)
        ):
            raise self.fail(f"{path}.{key}", f"expected {expected}, got {show(value)}")
        return value

    def obj(self, parent: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        value: dict[str, Any] | None = self._get(parent, key, path, dict, "an object")
        return {} if value is None else value

    def items(self, parent: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value: list[Any] | None = self._get(parent, key, path, list, "a list")
        return [] if value is None else value

    def text(self, parent: Mapping[str, Any], key: str, path: str, default: str = "") -> str:
        value: str | None = self._get(parent, key, path, str, "a string")
        return default if value is None else value

    def flag(self, parent: Mapping[str, Any], key: str, path: str, default: bool = False) -> bool:
        value: bool | None = self._get(parent, key, path, bool, "true or false")
        return default if value is None else value

    def number(self, parent: Mapping[str, Any], key: str, path: str) -> float:
        value: float | None = self._get(parent, key, path, (int, float), "a number")
        if value is not None and not math.isfinite(value):
            raise self.fail(f"{path}.{key}", f"expected a finite number, got {show(value)}")
        return 0.0 if value is None else float(value)

    def duration(self, parent: Mapping[str, Any], key: str, path: str) -> float:
        """A Tyk duration string in seconds; absent or "" is 0 (as in Tyk), anything unparsable an error."""
        text = self.text(parent, key, path)
        seconds = parse_duration(text) if text else 0.0
        if seconds is None:
            raise self.fail(
                f"{path}.{key}", f'expected a duration such as "10s", "1m30s" or "500ms", got {show(text)}'
            )
        if seconds < 0:
            raise self.fail(f"{path}.{key}", f"expected a duration >= 0, got {show(text)}")
        return seconds

    def listen_path(self, value: Any, path: str) -> str:
        if not isinstance(value, str) or not value.startswith("/"):
            raise self.fail(path, f'required: a path starting with "/", got {show(value)}')
        return value

    def target_url(self, value: Any, path: str) -> str:
        try:
            split = urlsplit(value) if isinstance(value, str) else None
        except ValueError:  # a malformed IPv6 literal
            split = None
        if split is not None and split.scheme in ("http", "https") and split.hostname:
            return str(value)
        raise self.fail(path, f"required: an absolute http:// or https:// URL, got {show(value)}")

    def rate(self, rate: float, per: float, path: str, per_shown: Any) -> RateSpec | None:
        """Tyk's API-level limit: rate 0 means off; a set rate needs a positive interval."""
        if rate < 0:
            raise self.fail(f"{path}.rate", f"expected a rate >= 0, got {show(rate)}")
        if rate == 0:
            return None
        if per <= 0:
            raise self.fail(
                f"{path}.per", f"expected an interval > 0 when rate is set, got {show(per_shown)}"
            )
        return RateSpec(rate=rate, per=per)


def classic_source(r: Reader, block: Mapping[str, Any], path: str, strip: bool) -> AuthTokenSpec:
    """Where a credential is read, from a Classic `auth_configs.<method>` block (Tyk's AuthConfig)."""
    header = r.text(block, "auth_header_name", path) or "Authorization"
    return AuthTokenSpec(
        header_name=header,
        use_header=not r.flag(block, "disable_header", path),
        use_param=r.flag(block, "use_param", path),
        param_name=r.text(block, "param_name", path) or header,
        use_cookie=r.flag(block, "use_cookie", path),
        cookie_name=r.text(block, "cookie_name", path) or header,
        strip_auth_data=strip,
    )


def oas_source(
    r: Reader, scheme: Mapping[str, Any], at: str, strip: bool, declared: tuple[str, str] | None = None
) -> AuthTokenSpec:
    """Where a credential is read, from an OAS scheme's x-tyk `header`, `query` and `cookie` blocks: as in
    Tyk, a source is read only when its block says so. `declared` is the OpenAPI declaration's own
    (`in`, `name`) for an apiKey scheme, which switches its source on and names it."""
    use, names = {}, {}
    for source in ("header", "query", "cookie"):
        block = r.obj(scheme, source, at)
        use[source] = r.flag(block, "enabled", f"{at}.{source}")
        names[source] = r.text(block, "name", f"{at}.{source}")
    if declared is not None:
        where, name = declared
        use[where], names[where] = True, name or names[where]
    header = names["header"] or "Authorization"
    return AuthTokenSpec(
        header_name=header,
        use_header=use["header"],
        use_param=use["query"],
        param_name=names["query"] or header,
        use_cookie=use["cookie"],
        cookie_name=names["cookie"] or header,
        strip_auth_data=strip,
    )
