"""What every admin endpoint shares: Tyk's JSON framing, status bodies, body decoding and timestamps.

Bodies are encoded as Go's json.Encoder writes them (compact, `<>&` escaped, newline-terminated) so
clients comparing bytes with Tyk see the same thing. No endpoint logic lives here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import non_finite

REQUEST_MALFORMED = "Request malformed"

# Go's encoder escapes these inside strings; in compact JSON they can only occur inside strings.
_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def go_json(value: Any) -> bytes:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return (text.translate(_GO_ESCAPES) + "\n").encode()
    except UnicodeEncodeError:  # a lone surrogate from a client's \ud800: escaped JSON is still JSON
        return (json.dumps(value, separators=(",", ":")).translate(_GO_ESCAPES) + "\n").encode()


class TykJSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return go_json(content)


def status(code: int, state: str, message: str) -> TykJSON:
    """Tyk's generic `{"status": ..., "message": ...}` object."""
    return TykJSON({"status": state, "message": message}, status_code=code)


def error(code: int, message: str) -> TykJSON:
    return status(code, "error", message)


def file_managed(what: str, ident: str, where: str) -> TykJSON:
    """409 for a write to an object a YAML file or Tyk Operator manifest holds: the file is the source of
    truth (GitOps), so the REST API never rewrites it, nor shadows it with a JSON file of the same id."""
    return error(
        409,
        f"{what} {ident!r} is managed by {where}: change that file and reload "
        "(the REST API does not rewrite YAML files or Tyk Operator manifests)",
    )


def modified(key: str, action: str, **extra: str) -> TykJSON:
    """Tyk's apiModifyKeySuccess: `{"key", "status": "ok", "action"}` plus non-empty extras (key_hash)."""
    body = {"key": key, "status": "ok", "action": action}
    body.update({name: value for name, value in extra.items() if value})
    return TykJSON(body)


class Malformed(Exception):
    """The body is not JSON, or not the shape the endpoint takes; rendered as Tyk's 400. `field` is the
    JSON path and what was wrong with it, when one field is (Tyk says only "Request malformed")."""

    def __init__(self, reason: str, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Go's decoder refuses NaN and Infinity


async def read_json(request: Request) -> Any:
    """The body's JSON value; Malformed when it is empty, not UTF-8 or not JSON."""
    body = await request.body()
    try:
        value = json.loads(body, parse_constant=_no_constants)
        # Go's decoder refuses 1e999 wherever it is: refused for every body, so a free-form field
        # (meta_data, config_data) never stores a number that cannot be written back (a 500 on each read).
        found = non_finite(value)
    except (ValueError, RecursionError) as exc:
        raise Malformed(f"not valid JSON: {exc}") from None
    if found is not None:
        raise Malformed(
            "a number out of range", f"{found[0]}: expected a finite number, got {json.dumps(found[1])}"
        )
    return value


async def read_object(request: Request) -> dict[str, Any]:
    value = await read_json(request)
    if not isinstance(value, dict):
        raise Malformed(f"expected a JSON object, got {type(value).__name__}")
    return value


def rfc3339(moment: float, fraction: bool = True) -> str:
    """A Unix time as Go writes a time.Time: local offset (`Z` for UTC); with `fraction` (RFC3339Nano,
    how Go marshals JSON) the sub-second part without trailing zeros, without it whole seconds."""
    local = datetime.fromtimestamp(moment).astimezone()
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction and local.microsecond:
        stamp += f".{local.microsecond:06d}".rstrip("0")
    offset = local.strftime("%z")
    return stamp + ("Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}")


def flag(request: Request, name: str) -> bool:
    """Tyk's `?hashed=...` test: present with any non-empty value."""
    return request.query_params.get(name, "") != ""
