"""Standard Webhooks asymmetric signatures (`v1a`, Ed25519): `whsk_` secret keys in both usual byte
forms, their `whpk_` public keys, signatures checked with `cryptography`'s Ed25519 verifier (the
reference `standardwebhooks` library verifies v1 only), v1 and v1a side by side in one header."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook

from gateway.delivery import signing
from gateway.delivery.options import signing_secrets
from gateway.errors import ConfigError

# RFC 8032 section 7.1, TEST 1: the specification of Standard Webhooks gives no vector of its own.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def verify_v1a(public_key: str, header: str, msg_id: str, timestamp: int, body: bytes) -> bool:
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key.removeprefix("whpk_")))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for part in header.split():
        version, _, sig = part.partition(",")
        if version == "v1a":
            key.verify(base64.b64decode(sig), signed)  # raises InvalidSignature
            return True
    return False


def test_known_key_pair_in_both_forms() -> None:
    for secret in ("whsk_" + b64(SEED), "whsk_" + b64(SEED + PUBLIC)):
        assert signing.public_key(secret) == "whpk_" + b64(PUBLIC)


def test_v1a_and_v1_side_by_side_verify() -> None:
    whsk, whpk = signing.generate_ed25519()
    whsec = signing.generate()
    keys = (signing.secret_key(whsk), signing.secret_key(whsec))
    body = b'{"event":"RatelimitExceeded"}'
    headers = dict(signing.signature_headers(keys, "msg_abc", 1_700_000_000, body))
    assert headers["webhook-signature"].startswith("v1a,") and " v1," in headers["webhook-signature"]
    assert verify_v1a(whpk, headers["webhook-signature"], "msg_abc", 1_700_000_000, body)
    fresh = dict(signing.signature_headers(keys, "msg_abc", int(time.time()), body))
    assert Webhook(whsec).verify(body, fresh) == {"event": "RatelimitExceeded"}
    assert signing.public_key(whsec) is None


@pytest.mark.parametrize(
    "secret",
    ["whsk_" + b64(b"short"), "whsk_" + b64(SEED + SEED), "whsk_not*base64"],
)
def test_bad_secret_keys_are_refused_by_position_without_printing_them(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"signing_secrets\[1\]") as caught:
        signing_secrets({"signing_secrets": [signing.generate(), secret]}, "w")
    assert secret not in str(caught.value)
