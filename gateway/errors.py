"""The gateway's exception tree and Tyk's client-facing error bodies.

    GatewayError
    |-- ConfigError     bad tyk.conf, API definition or handler meta (names the file/key and value)
    |   `-- Refused     a file or address a definition may not use: the whole API is refused
    |-- Reject          a middleware refuses the request: Tyk's status and message
    |-- UpstreamError   the upstream failed: rendered as Tyk renders proxy errors
    |-- StoreError      the store (embedded or Redis) failed
    `-- HandlerError    an event handler failed to deliver

Also `non_finite`, the one check of a JSON value's numbers against Go's float64, which every reader of
user JSON (REST bodies, definition files, stored sessions) applies. This module imports nothing from the
package: everything may import it.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any


class GatewayError(Exception):
    """Root of every error the gateway raises on purpose."""


class ConfigError(GatewayError):
    """Invalid configuration. `where` names the file and JSON path, so the message stands alone."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where
        self.reason = message


class Refused(ConfigError):
    """A definition names what this gateway must not touch: a template outside `template_path`, or an
    address the outbound policy denies. Not a typo to skip one handler for: the API is not loaded."""


class Reject(GatewayError):
    """A middleware refused the request with Tyk's status and message (see TYK-REFERENCE section 10)."""

    def __init__(self, status: int, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


class UpstreamError(GatewayError):
    """The upstream could not be reached or timed out; status and message are Tyk's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers: tuple[tuple[bytes, bytes], ...] = ()  # for the client's error answer (X-Request-ID)
        self.message = message


class StoreError(GatewayError):
    """The store failed: a connection, timeout or protocol problem."""


class HandlerError(GatewayError):
    """An event handler could not deliver an event."""


# Tyk's messages, verbatim (TYK-REFERENCE section 10); one constant each so tests and code agree.
AUTH_FIELD_MISSING = "Authorization field missing"
ACCESS_DISALLOWED = "Access to this API has been disallowed"
KEY_INACTIVE = "Key is inactive, please renew"
KEY_EXPIRED = "Key has expired, please renew"
RATE_LIMIT_EXCEEDED = "Rate Limit Exceeded"
API_RATE_LIMIT_EXCEEDED = "API Rate Limit Exceeded"
QUOTA_EXCEEDED = "Quota exceeded"
ORG_DISABLED = "this organisation access has been disabled, please contact your API administrator"
ORG_QUOTA_EXCEEDED = "This organisation quota has been exceeded, please contact your API administrator"
ORG_RATE_LIMIT_EXCEEDED = (
    "This organisation rate limit has been exceeded, please contact your API administrator"
)
STORE_PROBLEM = "there was a problem proxying the request"
UPSTREAM_PROBLEM = "There was a problem proxying the request"
UPSTREAM_DNS = "Upstream host lookup failed"
UPSTREAM_TIMEOUT = "Upstream service reached hard timeout."
CLIENT_CLOSED = "Client closed request"
NOT_FOUND = "Not Found"

_XML_TYPES = frozenset({b"application/xml", b"text/xml", b"application/soap+xml"})


def wants_xml(content_type: bytes) -> bool:
    """Tyk picks its XML error template when the request's media type (parameters stripped) is XML."""
    return content_type.split(b";", 1)[0].strip().lower() in _XML_TYPES


@lru_cache(maxsize=256)
def render_error(message: str, xml: bool = False) -> tuple[bytes, bytes]:
    """Body and content type of Tyk's shipped error.json / error.xml, byte for byte.

    Cached: the set of messages is small and fixed, and rejections are a hot path under a flood.
    """
    if xml:
        body = f'<?xml version = "1.0" encoding = "UTF-8"?>\n<error>{xml_escape(message)}</error>'
        return body.encode(), b"application/xml"
    return ('{\n    "error": ' + json.dumps(message) + "\n}").encode(), b"application/json"


def xml_escape(text: str) -> str:
    """The escaping Tyk's XML error template applies to the message (html/template's)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")


def non_finite(value: Any, path: str = "$") -> tuple[str, float] | None:
    """The path and value of the first number in `value` that Go's float64 cannot hold (Python reads
    1e999 as infinity), or None: free-form fields hold any JSON, but never such a number."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        found = non_finite(child, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found is not None:
            return found
    return None
