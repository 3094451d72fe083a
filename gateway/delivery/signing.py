"""Standard Webhooks 1.0 signing: `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.

Each attempt signs afresh (a new timestamp, the same id), with one signature per secret so that a
receiver mid-rotation accepts either: `v1,` (HMAC-SHA256) for a `whsec_<base64>` secret, `v1a,`
(Ed25519) for a `whsk_<base64>` secret key, whose public half (`whpk_<base64>`) receivers verify with.
Pure functions: no I/O, no clock of its own.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PREFIX = "whsec_"
SECRET_KEY_PREFIX = "whsk_"  # Standard Webhooks' asymmetric secret key
PUBLIC_KEY_PREFIX = "whpk_"  # and its public key, safe to publish

# A whsec_ secret is an HMAC key (bytes); a whsk_ secret key an Ed25519 private key.
Key = bytes | Ed25519PrivateKey


def secret_key(secret: str) -> Key:
    """The key of a `whsec_` or `whsk_` secret; ValueError (naming the problem, never the secret) if bad."""
    if secret.startswith(SECRET_KEY_PREFIX):
        return _ed25519(_b64(secret, SECRET_KEY_PREFIX))
    if not secret.startswith(PREFIX):
        raise ValueError('a signing secret must start with "whsec_" or "whsk_" (Standard Webhooks form)')
    key = _b64(secret, PREFIX)
    if len(key) < 16:
        raise ValueError("a signing secret must hold at least 16 bytes (24 base64 characters)")
    return key


def _b64(secret: str, prefix: str) -> bytes:
    try:
        return base64.b64decode(secret[len(prefix) :], validate=True)
    except binascii.Error:
        raise ValueError(f'a signing secret must be "{prefix}" followed by base64') from None


def _ed25519(raw: bytes) -> Ed25519PrivateKey:
    """The specification says "standard ed25519 key pair" without fixing the bytes: both usual forms are
    taken, the 32-byte seed (RFC 8032) and the 64-byte seed-then-public-key (libsodium, Go)."""
    if len(raw) not in (32, 64):
        raise ValueError(
            'a "whsk_" secret key must hold 32 or 64 bytes (an Ed25519 seed, or seed + public key)'
        )
    key = Ed25519PrivateKey.from_private_bytes(raw[:32])
    if len(raw) == 64 and raw[32:] != _raw_public(key):
        raise ValueError('a 64-byte "whsk_" secret key must end with its own public key')
    return key


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key(secret: str) -> str | None:
    """The `whpk_<base64>` public key of a `whsk_` secret key; None for a `whsec_` secret (none to show)."""
    key = secret_key(secret)
    if isinstance(key, bytes):
        return None
    return PUBLIC_KEY_PREFIX + base64.b64encode(_raw_public(key)).decode()


def signature(keys: tuple[Key, ...], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: space-separated `v1,<base64 HMAC-SHA256>` and `v1a,<base64
    Ed25519>`, each over `id.timestamp.body`, in the order of the keys."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.digest(key, signed, "sha256")).decode()
        if isinstance(key, bytes)
        else "v1a," + base64.b64encode(key.sign(signed)).decode()
        for key in keys
    )


def signature_headers(
    keys: tuple[Key, ...], msg_id: str, timestamp: int, body: bytes
) -> list[tuple[str, str]]:
    """The headers of one attempt: the id (receivers deduplicate on it) and the attempt's timestamp
    always, as Standard Webhooks lists them (the AsyncAPI document requires both); the signature when
    there are keys."""
    out = [("webhook-id", msg_id), ("webhook-timestamp", str(timestamp))]
    if keys:
        out.append(("webhook-signature", signature(keys, msg_id, timestamp, body)))
    return out


def generate() -> str:
    """A new random secret in the `whsec_` form (32 bytes)."""
    return PREFIX + base64.b64encode(os.urandom(32)).decode()


def generate_ed25519() -> tuple[str, str]:
    """A new Ed25519 pair: (`whsk_` secret key, 64 bytes seed + public key; `whpk_` public key)."""
    key = Ed25519PrivateKey.generate()
    seed = key.private_bytes_raw()
    public = _raw_public(key)
    secret = SECRET_KEY_PREFIX + base64.b64encode(seed + public).decode()
    return secret, PUBLIC_KEY_PREFIX + base64.b64encode(public).decode()
