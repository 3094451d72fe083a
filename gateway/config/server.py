"""tyk.conf `http_server_options`: the listener's TLS, client address and HTTP limits, with their defaults.

Owns the section's shape and its zero-means-default rule for the limits (Tyk's rule for its own server
timeouts). It must not open sockets or know uvicorn: app/listener.py applies the limits to connections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

# The limits' defaults, also what 0 stands for: a zero never switches a limit off.
MAX_HEADER_BYTES = 65_536  # Go (so Tyk) allows 1 MiB; Envoy 60 KiB, Node.js 16 KiB
MAX_HEADER_COUNT = 100  # Envoy's and Apache's default
MAX_URL_BYTES = 16_384  # the request target, path and query; nginx and Apache allow about 8 KiB
READ_HEADER_TIMEOUT = 10.0  # seconds for a request's head to arrive; Tyk's read_timeout (120 s) bounds more
IDLE_TIMEOUT = 120.0  # seconds a kept-alive connection may wait for its next request: Tyk's (Go's) value


@dataclass(frozen=True, slots=True)
class HttpServerOptions:
    xff_depth: int = 0
    use_ssl: bool = False
    certificates: list[Any] = field(default_factory=list)  # [{domain_name, cert_file, key_file}]
    ssl_certificates: list[Any] = field(default_factory=list)  # certificate ids or PEM file paths
    # Not in Tyk, named after the Go http.Server fields Tyk leaves at their defaults (MaxHeaderBytes,
    # ReadHeaderTimeout, IdleTimeout): the request line and headers in bytes (431), the number of
    # headers (431), the request target's length (414), seconds to receive a head (408), seconds a
    # kept-alive connection may wait for its next request.
    max_header_bytes: int = MAX_HEADER_BYTES
    max_header_count: int = MAX_HEADER_COUNT
    max_url_bytes: int = MAX_URL_BYTES
    read_header_timeout: float = READ_HEADER_TIMEOUT
    idle_timeout: float = IDLE_TIMEOUT


def with_defaults(options: HttpServerOptions) -> HttpServerOptions:
    """Zeros replaced by the defaults, as Tyk does for `read_timeout` (negative values never get here)."""
    return dataclasses.replace(
        options,
        max_header_bytes=options.max_header_bytes or MAX_HEADER_BYTES,
        max_header_count=options.max_header_count or MAX_HEADER_COUNT,
        max_url_bytes=options.max_url_bytes or MAX_URL_BYTES,
        read_header_timeout=options.read_header_timeout or READ_HEADER_TIMEOUT,
        idle_timeout=options.idle_timeout or IDLE_TIMEOUT,
    )
