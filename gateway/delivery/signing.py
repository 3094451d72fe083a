"""Standard Webhooks 1.0 signing: `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.

Each attempt signs afresh (a new timestamp, the same id), with one `v1,` signature per secret so that a
receiver mid-rotation accepts either. Secrets are `whsec_<base64>`, as the specification and its
reference libraries use. Pure functions: no I/O, no clock of its own.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret; ValueError (naming the problem, never the secret) if bad."""
    if not secret.startswith(PREFIX):
        raise ValueError('a signing secret must start with "whsec_" (Standard Webhooks form)')
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError('a signing secret must be "whsec_" followed by base64') from None
    if len(key) < 16:
        raise ValueError("a signing secret must hold at least 16 bytes (24 base64 characters)")
    return key


def signature(keys: tuple[bytes, ...], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: space-separated `v1,<base64 HMAC-SHA256>` over `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.digest(key, signed, "sha256")).decode() for key in keys)


def signature_headers(
    keys: tuple[bytes, ...], msg_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    """The headers of one attempt: the id always (receivers deduplicate on it), the rest when signed."""
    out = [("webhook-id", msg_id)]
    if keys:
        out.append(("webhook-timestamp", str(timestamp)))
        out.append(("webhook-signature", signature(keys, msg_id, timestamp, body)))
    return out


def generate() -> str:
    """A new random secret in the `whsec_` form (32 bytes)."""
    return PREFIX + base64.b64encode(os.urandom(32)).decode()
