"""Tyk's key formats and key hashes: MurmurHash3 (x86 32-bit, x64 128-bit) and sha256, in pure Python.

Owns what `storage/hash.go` does in Tyk: which algorithm a token asks for, the hex digest Redis names
use, and the shape of generated tokens. It must not touch the store or log: keys pass through here raw.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
import uuid
from functools import lru_cache

MURMUR32, MURMUR64, MURMUR128, SHA256 = "murmur32", "murmur64", "murmur128", "sha256"
ALGORITHMS = frozenset({MURMUR32, MURMUR64, MURMUR128, SHA256})
DEFAULT_ALGORITHM = MURMUR64  # what a generated token records when the configured name is unknown
B64_JSON_PREFIX = "ey"  # `{"` in base64: only such tokens can carry an algorithm

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & _M32


def _rotl64(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M64


def _fmix64(k: int) -> int:
    k ^= k >> 33
    k = (k * 0xFF51AFD7ED558CCD) & _M64
    k ^= k >> 33
    k = (k * 0xC4CEB9FE1A85EC53) & _M64
    return k ^ (k >> 33)


def murmur3_32(data: bytes, seed: int = 0) -> int:
    """MurmurHash3_x86_32."""
    c1, c2 = 0xCC9E2D51, 0x1B873593
    h = seed & _M32
    body = len(data) & ~3
    for (k,) in struct.iter_unpack("<I", data[:body]):
        k = (_rotl32((k * c1) & _M32, 15) * c2) & _M32
        h = (_rotl32(h ^ k, 13) * 5 + 0xE6546B64) & _M32
    tail = data[body:]
    if tail:
        k = int.from_bytes(tail, "little")
        h ^= (_rotl32((k * c1) & _M32, 15) * c2) & _M32
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def murmur3_x64_128(data: bytes, seed: int = 0) -> tuple[int, int]:
    """MurmurHash3_x64_128 as two 64-bit halves (h1, h2); Tyk's murmur64 is h1 alone."""
    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed & _M32
    body = len(data) & ~15
    for k1, k2 in struct.iter_unpack("<QQ", data[:body]):
        h1 ^= (_rotl64((k1 * c1) & _M64, 31) * c2) & _M64
        h1 = (_rotl64(h1, 27) + h2) & _M64
        h1 = (h1 * 5 + 0x52DCE729) & _M64
        h2 ^= (_rotl64((k2 * c2) & _M64, 33) * c1) & _M64
        h2 = (_rotl64(h2, 31) + h1) & _M64
        h2 = (h2 * 5 + 0x38495AB5) & _M64
    tail = data[body:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl64((k2 * c2) & _M64, 33) * c1) & _M64
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl64((k1 * c1) & _M64, 31) * c2) & _M64
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _M64
    h2 = (h2 + h1) & _M64
    h1, h2 = _fmix64(h1), _fmix64(h2)
    h1 = (h1 + h2) & _M64
    return h1, (h2 + h1) & _M64


def _token_json(token: str) -> dict[str, object] | None:
    """The JSON object inside a base64 token, or None for a legacy (or accidentally `ey...`) key."""
    if not token.startswith(B64_JSON_PREFIX):
        return None
    try:
        decoded = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def token_hash_algorithm(token: str) -> str:
    """The `h` a base64 JSON token names; "" (= murmur32) for legacy keys."""
    found = (_token_json(token) or {}).get("h")
    return found if isinstance(found, str) else ""


def token_org(token: str) -> str:
    """Tyk's TokenOrg: the `org` of a base64 JSON token, else the first 24 characters of a long key."""
    org = (_token_json(token) or {}).get("org")
    if isinstance(org, str):
        return org
    return token[:24] if len(token) > 24 else ""


@lru_cache(maxsize=8192)
def hash_str(text: str, algorithm: str = "") -> str:
    """Lower-case hex digest; the algorithm is the token's own unless given. Unknown names = murmur32.

    Cached because auth hashes the same few keys on every request when hash_keys is on.
    """
    algo = algorithm or token_hash_algorithm(text)
    data = text.encode()
    if algo == SHA256:
        return hashlib.sha256(data).hexdigest()
    if algo == MURMUR64:
        return f"{murmur3_x64_128(data)[0]:016x}"
    if algo == MURMUR128:
        h1, h2 = murmur3_x64_128(data)
        return f"{h1:016x}{h2:016x}"
    return f"{murmur3_32(data):08x}"


def generate_token(org_id: str, key_id: str = "", algorithm: str = "") -> str:
    """Tyk's token shape: `<org><id>` without an algorithm, else base64 of `{"org","id","h"}`.

    `key_id` defaults to 32 random hex characters. The JSON is spelled out as Tyk spells it (no
    escaping), so a token made here hashes to the same Redis name as one Tyk made.
    """
    key_id = key_id or uuid.uuid4().hex
    if not algorithm:
        return org_id + key_id
    algo = algorithm if algorithm in ALGORITHMS else DEFAULT_ALGORITHM
    text = f'{{"org":"{org_id}","id":"{key_id}","h":"{algo}"}}'
    return base64.b64encode(text.encode()).decode()
