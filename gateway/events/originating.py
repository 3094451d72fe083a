"""The originating request of an event: the request as Go's HTTP/1.1 client writes it, which Tyk puts
(base64) in an event's `OriginatingRequest`, and the capped read of a rejected request's body for it.

Pure functions of an ASGI scope and receive: no event, no bus, no I/O besides `receive`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def encode_request(scope: Scope, body: bytes) -> bytes:
    """Go's HTTP/1.1 client wire form of the request (Tyk's OriginatingRequest, before base64)."""
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    headers: dict[bytes, list[bytes]] = {}
    for k, v in scope["headers"]:
        headers.setdefault(k, []).append(v)
    host = (headers.pop(b"host", None) or [b""])[0]
    agent = (headers.pop(b"user-agent", None) or [b"Go-http-client/1.1"])[0]
    headers.pop(b"content-length", None)
    headers.pop(b"transfer-encoding", None)
    lines = [
        scope["method"].encode() + b" " + target + b" HTTP/1.1",
        b"Host: " + host,
        b"User-Agent: " + agent,
    ]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    for name in sorted(headers, key=_canonical):
        lines.extend(_canonical(name) + b": " + v for v in headers[name])
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _canonical(name: bytes) -> bytes:
    return b"-".join(part[:1].upper() + part[1:] for part in name.split(b"-"))


async def read_capped(receive: Receive | None, cap: int) -> bytes:
    """Up to `cap` bytes of the request body (nothing without `receive`)."""
    if receive is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunk = msg.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)[:cap]
