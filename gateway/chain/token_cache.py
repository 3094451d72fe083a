"""Upstream OAuth tokens at rest: Tyk's store key names and a sealed value that a shared store never
holds in the clear (encrypt-then-MAC with keys derived from the gateway `secret`).

Tyk seals with AES; the standard library has none, so the stream is HMAC-SHA256 in counter mode and
the tag HMAC-SHA256 over nonce and ciphertext. Values are not readable by Tyk. No I/O here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from typing import Any

from gateway.apidef.model import UpstreamOAuthSpec

PREFIXES = {"clientCredentials": "upstreamOAuthCC-", "password": "upstreamOAuthPW-"}
_VERSION = "v1."
_NONCE, _TAG = 16, 32


def cache_hash(spec: UpstreamOAuthSpec, api_id: str) -> str:
    """Tyk's hash: client credentials key on the token URL, the password grant on the client secret."""
    if spec.grant == "password":
        text = f"pw-{api_id}|{spec.client_id}|{spec.client_secret}|{','.join(spec.scopes)}"
    else:
        text = f"cc-{api_id}|{spec.client_id}|{spec.token_url}|{','.join(spec.scopes)}"
    return hashlib.sha256(text.encode()).hexdigest()


def store_key(spec: UpstreamOAuthSpec, api_id: str) -> str:
    return PREFIXES[spec.grant] + cache_hash(spec, api_id)


def lock_key(spec: UpstreamOAuthSpec, api_id: str) -> str:
    # Tyk's lock goes without the prefix: `<hash>:lock`.
    return cache_hash(spec, api_id) + ":lock"


class Sealer:
    """Seal and open short strings with keys derived from one secret."""

    __slots__ = ("_enc", "_mac")

    def __init__(self, secret: str) -> None:
        root = hmac.digest(b"upstream-oauth-token-cache", secret.encode(), "sha256")
        self._enc = hmac.digest(root, b"encrypt", "sha256")
        self._mac = hmac.digest(root, b"authenticate", "sha256")

    def seal(self, text: str) -> str:
        nonce = os.urandom(_NONCE)
        plain = text.encode()
        cipher = bytes(a ^ b for a, b in zip(plain, self._stream(nonce, len(plain)), strict=True))
        tag = hmac.digest(self._mac, nonce + cipher, "sha256")
        return _VERSION + base64.urlsafe_b64encode(nonce + cipher + tag).decode()

    def open(self, sealed: str) -> str | None:
        """The text, or None when the value was tampered with or sealed under another secret."""
        if not sealed.startswith(_VERSION):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :])
        except ValueError:
            return None
        if len(raw) < _NONCE + _TAG:
            return None
        nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
        if not hmac.compare_digest(tag, hmac.digest(self._mac, nonce + cipher, "sha256")):
            return None
        plain = bytes(a ^ b for a, b in zip(cipher, self._stream(nonce, len(cipher)), strict=True))
        try:
            return plain.decode()
        except UnicodeDecodeError:
            return None

    def _stream(self, nonce: bytes, size: int) -> bytes:
        blocks = (size + 31) // 32
        out = b"".join(hmac.digest(self._enc, nonce + i.to_bytes(4, "big"), "sha256") for i in range(blocks))
        return out[:size]


@dataclass(frozen=True, slots=True)
class Cached:
    token: str = field(repr=False)
    expires_at: float  # wall-clock seconds
    extra_metadata: dict[str, Any] = field(default_factory=dict)


def dump(sealer: Sealer, cached: Cached) -> str:
    """Tyk's value shape `{token, extra_metadata}`, plus `expires_at` so a reader knows the lifetime."""
    return json.dumps(
        {
            "token": sealer.seal(cached.token),
            "extra_metadata": cached.extra_metadata,
            "expires_at": cached.expires_at,
        }
    )


def load(sealer: Sealer, value: str) -> Cached | None:
    """A stored value, or None when it is unreadable (the caller then fetches a fresh token)."""
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        return None
    token = sealer.open(data["token"])
    expires_at = data.get("expires_at")
    if token is None or not isinstance(expires_at, (int, float)) or isinstance(expires_at, bool):
        return None
    extra = data.get("extra_metadata")
    return Cached(token, float(expires_at), extra if isinstance(extra, dict) else {})
