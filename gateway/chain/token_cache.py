"""Upstream OAuth tokens at rest: Tyk's store key names and a sealed value that a shared store never
holds in the clear (AES-256-GCM under a key derived from the gateway `secret`).

Tyk also seals with AES, but with its own key and mode, so neither can read the other's values. No I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gateway.apidef.model import UpstreamOAuthSpec
from gateway.sealing import Sealer

PREFIXES = {"clientCredentials": "upstreamOAuthCC-", "password": "upstreamOAuthPW-"}
__all__ = ["Cached", "Sealer", "cache_hash", "dump", "load", "lock_key", "store_key"]


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
