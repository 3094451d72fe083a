"""Sealing short secrets at rest: AES-256-GCM under a key derived from the gateway `secret` and a purpose.

Used for upstream OAuth tokens in the store and for webhook signing secrets in the outbox, so neither a
shared Redis nor a file on disk holds them in the clear. Pure computation: no I/O, no gateway imports.
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = "v2."
_NONCE = 12  # GCM's standard nonce size


class Sealer:
    """Seal and open short strings with AES-256-GCM under a key derived from one secret."""

    __slots__ = ("_aead",)

    def __init__(self, secret: str, purpose: bytes = b"upstream-oauth-token-cache") -> None:
        # A derived key, never the secret itself: the same secret also guards the REST API. Each use has
        # its own purpose, so a value sealed for one use never opens as another's.
        self._aead = AESGCM(hmac.digest(purpose, secret.encode(), "sha256"))

    def seal(self, text: str) -> str:
        nonce = os.urandom(_NONCE)
        return (
            _VERSION
            + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, text.encode(), None)).decode()
        )

    def open(self, sealed: str) -> str | None:
        """The text, or None when the value was tampered with or sealed under another secret."""
        if not sealed.startswith(_VERSION):
            return None
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :])
            return self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], None).decode()
        except (ValueError, InvalidTag, UnicodeDecodeError):
            return None
