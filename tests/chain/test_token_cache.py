"""Upstream OAuth tokens at rest: Tyk's key names and hash inputs, and a sealed value that hides the
token, refuses tampering and does not open under another secret."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from gateway.apidef.model import UpstreamOAuthSpec
from gateway.chain.token_cache import Cached, Sealer, dump, load, lock_key, store_key

CC = UpstreamOAuthSpec(
    grant="clientCredentials",
    client_id="cid",
    client_secret="csecret",
    token_url="https://idp.example/token",
    scopes=("a", "b"),
)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_key_names_are_tyks() -> None:
    assert store_key(CC, "api1") == "upstreamOAuthCC-" + sha("cc-api1|cid|https://idp.example/token|a,b")
    assert lock_key(CC, "api1") == sha("cc-api1|cid|https://idp.example/token|a,b") + ":lock"
    pw = dataclasses.replace(CC, grant="password", username="u", password="p", scopes=())
    assert store_key(pw, "api1") == "upstreamOAuthPW-" + sha("pw-api1|cid|csecret|")


def test_sealed_token_round_trips_and_hides_the_token() -> None:
    sealer = Sealer("gateway-secret")
    sealed = sealer.seal("the-access-token")
    assert "the-access-token" not in sealed
    assert sealer.seal("the-access-token") != sealed  # a fresh nonce every time
    assert sealer.open(sealed) == "the-access-token"
    assert Sealer("gateway-secret").open(sealed) == "the-access-token"  # another gateway, same secret


def test_tampered_or_foreign_values_do_not_open() -> None:
    sealer = Sealer("gateway-secret")
    sealed = sealer.seal("the-access-token")
    assert Sealer("other-secret").open(sealed) is None
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    assert sealer.open(flipped) is None
    for junk in ("", "v2.", "v2.!!!", "v2.AAAA", "v1." + sealed[3:], "plain-token"):
        assert sealer.open(junk) is None


def test_stored_value_has_tyks_shape() -> None:
    sealer = Sealer("s")
    value = dump(sealer, Cached("tok", 1000.5, {"instance": "eu"}))
    data = json.loads(value)
    assert set(data) == {"token", "extra_metadata", "expires_at"}
    assert data["extra_metadata"] == {"instance": "eu"} and "tok" not in data["token"]
    assert load(sealer, value) == Cached("tok", 1000.5, {"instance": "eu"})
    assert load(Sealer("other"), value) is None
    for junk in ("not json", "[]", '{"token": 1}', json.dumps({**data, "expires_at": "x"})):
        assert load(sealer, junk) is None
