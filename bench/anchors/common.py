"""Shared bits of the anchor proxies: upstream URL, hop-by-hop headers (kept tiny on purpose)."""

from __future__ import annotations

import os

UPSTREAM = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:18000").rstrip("/")
POOL = int(os.environ.get("UPSTREAM_POOL", "256"))

# Hop-by-hop headers (RFC 9110 7.6.1) plus host, which the client sets for the upstream.
HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
    }
)


def upstream_url(scope) -> str:
    path = scope.get("raw_path") or scope["path"].encode()
    url = UPSTREAM + path.decode("latin-1")
    qs = scope.get("query_string")
    if qs:
        url += "?" + qs.decode("latin-1")
    return url


def forward_headers(scope):
    """Request headers to send upstream (bytes pairs) and whether a body follows."""
    out = []
    has_body = False
    for k, v in scope["headers"]:  # ASGI: lowercase bytes
        if k in (b"content-length", b"transfer-encoding"):
            has_body = True
        if k not in HOP:
            out.append((k, v))
    client = scope.get("client")
    if client:
        out.append((b"x-forwarded-for", client[0].encode()))
    return out, has_body


def response_headers(raw):
    return [(k.lower(), v) for k, v in raw if k.lower() not in HOP]
