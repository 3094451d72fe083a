"""Dot-segments in a request path: RFC 3986's remove_dot_segments on the raw path, percent-encoded dots
included, giving the path that is routed and forwarded; `RefusedPath` for one no cleaning makes safe.

Pure bytes in, bytes out: which listen path a `..` may not leave is the caller's rule (app/gateway.py).
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

# Why a path is refused (the 400's message; rendered by the error templates like any rejection).
CLIMBS = "Request path climbs above the listen path"
ENCODED_SLASH = "Request path has an encoded slash beside a dot-segment"

_DOTS = (b".", b"..")


class RefusedPath(ValueError):
    """The path cannot be cleaned: `message` says why (CLIMBS or ENCODED_SLASH)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def remove_dot_segments(raw: bytes) -> bytes:
    """The raw path with its "." and ".." segments resolved (RFC 3986 section 5.2.4), every other segment
    kept byte for byte (its percent-encodings too).

    A segment is a dot-segment if it is one once percent-decoded (`%2e%2e`, `.%2E`). Two cases RFC 3986
    would let through are refused with `RefusedPath`: a `..` above the root (the RFC drops it silently;
    no client that cleans its URLs sends one), and an encoded slash beside a dot-segment inside one
    segment (`..%2f`, `a%2F..`): one segment to an upstream that keeps `%2F`, a climb to one that decodes
    it, so no cleaning is right for both.
    """
    segments = raw.split(b"/")[1:] if raw.startswith(b"/") else raw.split(b"/")
    out: list[bytes] = []
    last = len(segments) - 1
    for i, segment in enumerate(segments):
        plain = unquote_to_bytes(segment) if b"%" in segment else segment
        if plain in _DOTS:
            if plain == b"..":
                if not out:
                    raise RefusedPath(CLIMBS)
                out.pop()
            if i == last:  # "/a/b/.." is "/a/": a directory, as the RFC keeps it
                out.append(b"")
            continue
        if b"/" in plain and any(piece in _DOTS for piece in plain.split(b"/")):
            raise RefusedPath(ENCODED_SLASH)
        out.append(segment)
    return b"/" + b"/".join(out)


def decoded(raw: bytes) -> str:
    """The path as uvicorn decodes it for `scope["path"]` (UTF-8, invalid bytes replaced)."""
    return unquote_to_bytes(raw).decode("utf-8", "replace") if b"%" in raw else raw.decode("latin-1")
