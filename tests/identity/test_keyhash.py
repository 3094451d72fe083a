"""MurmurHash3 against published vectors, and Tyk's token formats and hash choice."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from gateway.identity import keyhash
from gateway.identity.keyhash import generate_token, hash_str, murmur3_32, murmur3_x64_128, token_org

# spaolacci/murmur3's reference table (the Go package Tyk's fork comes from): seed, x86_32, x64_128 halves.
SPAOLACCI = [
    (0x00, 0x00000000, 0x0000000000000000, 0x0000000000000000, ""),
    (0x00, 0x248BFA47, 0xCBD8A7B341BD9B02, 0x5B1E906A48AE1D19, "hello"),
    (0x00, 0x149BBB7F, 0x342FAC623A5EBC8E, 0x4CDCBC079642414D, "hello, world"),
    (0x00, 0xE31E8A70, 0xB89E5988B737AFFC, 0x664FC2950231B2CB, "19 Jan 2038 at 3:14:07 AM"),
    (
        0x00,
        0xD5C48BFC,
        0xCD99481F9EE902C9,
        0x695DA1A38987B6E7,
        "The quick brown fox jumps over the lazy dog.",
    ),
    (0x01, 0x514E28B7, 0x4610ABE56EFF5CB5, 0x51622DAA78F83583, ""),
    (0x01, 0xBB4ABCAD, 0xA78DDFF5ADAE8D10, 0x128900EF20900135, "hello"),
    (0x01, 0x6F5CB2E9, 0x8B95F808840725C6, 0x1597ED5422BD493B, "hello, world"),
    (0x2A, 0x087FCD5C, 0xF02AA77DFA1B8523, 0xD1016610DA11CBB9, ""),
    (
        0x2A,
        0xC02D1434,
        0x74F33C659CDA5AF7,
        0x4EC7A891CAF316F0,
        "The quick brown fox jumps over the lazy dog.",
    ),
]


@pytest.mark.parametrize(("seed", "h32", "h1", "h2", "text"), SPAOLACCI)
def test_murmur3_reference_vectors(seed: int, h32: int, h1: int, h2: int, text: str) -> None:
    assert murmur3_32(text.encode(), seed) == h32
    assert murmur3_x64_128(text.encode(), seed) == (h1, h2)


def test_murmur3_widely_published_values() -> None:
    # Wikipedia's MurmurHash3_x86_32 examples and the x64_128 value quoted for the fox sentence.
    assert murmur3_32(b"test") == 0xBA6BD213
    assert murmur3_32(b"Hello, world!") == 0xC0363E43
    assert murmur3_32(b"The quick brown fox jumps over the lazy dog") == 0x2E4FF723
    fox = murmur3_x64_128(b"The quick brown fox jumps over the lazy dog")
    assert f"{fox[0]:016x}{fox[1]:016x}" == "e34bbc7bbc071b6c7a433ca9c49a9347"


def test_every_tail_length_is_stable_and_distinct() -> None:
    # Lengths 0..33 cover every tail case of both variants (block sizes 4 and 16).
    seen32 = {murmur3_32(bytes(range(n))) for n in range(34)}
    seen128 = {murmur3_x64_128(bytes(range(n))) for n in range(34)}
    assert len(seen32) == len(seen128) == 34


def test_legacy_keys_hash_with_murmur32_as_lower_hex() -> None:
    assert hash_str("hello") == "248bfa47"
    assert hash_str("hello", "sha256") == hashlib.sha256(b"hello").hexdigest()
    assert hash_str("hello", "murmur128") == "cbd8a7b341bd9b025b1e906a48ae1d19"
    assert hash_str("hello", "no-such-algorithm") == "248bfa47"  # Tyk falls back to murmur32


@pytest.mark.parametrize(
    ("algo", "length"), [("murmur64", 16), ("murmur128", 32), ("sha256", 64), ("murmur32", 8)]
)
def test_base64_tokens_hash_with_the_algorithm_they_name(algo: str, length: int) -> None:
    token = generate_token("org1", "abc", algo)
    assert json.loads(base64.b64decode(token)) == {"org": "org1", "id": "abc", "h": algo}
    digest = hash_str(token)
    assert re.fullmatch(f"[0-9a-f]{{{length}}}", digest)
    if algo == "murmur64":
        assert digest == f"{murmur3_x64_128(token.encode())[0]:016x}"
    if algo == "sha256":
        assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_a_key_that_only_looks_like_base64_json_is_legacy() -> None:
    assert keyhash.token_hash_algorithm("eyNotBase64!") == ""
    assert keyhash.token_hash_algorithm(base64.b64encode(b'{"h": 5}').decode()) == ""
    assert hash_str("eyNotBase64!") == f"{murmur3_32(b'eyNotBase64!'):08x}"


def test_generated_tokens_follow_tyks_shapes() -> None:
    legacy = generate_token("org1")
    assert re.fullmatch("org1[0-9a-f]{32}", legacy)
    assert generate_token("org1") != legacy
    wrapped = json.loads(base64.b64decode(generate_token("o", "", "murmur64")))
    assert (
        wrapped["org"] == "o" and re.fullmatch("[0-9a-f]{32}", wrapped["id"]) and wrapped["h"] == "murmur64"
    )
    # An unknown configured function is recorded as Tyk's default, murmur64.
    assert json.loads(base64.b64decode(generate_token("o", "k", "md5")))["h"] == "murmur64"


def test_token_org() -> None:
    assert token_org(generate_token("acme", "k", "sha256")) == "acme"
    assert token_org("a" * 30) == "a" * 24  # Tyk: a long legacy key starts with a 24-char org id
    assert token_org("short") == ""
