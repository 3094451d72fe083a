"""The certificate store: PEM parsing (ids, names, keys), store-backed ids and file references."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.certs.store import NOT_PEM, PREFIX, CertError, CertStore, parse_pem
from gateway.store.base import Store
from tests.pki import PKI, cert_and_key, cert_id, cert_pem, write


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


def test_parse_reads_tyks_id_and_the_names(pki: PKI) -> None:
    leaf = pki.client("alice", days=30)
    cert = parse_pem(cert_pem(leaf))
    assert cert.id == cert_id(leaf) and len(cert.id) == 64
    assert cert.common_name == "alice"
    assert cert.subject["CommonName"] == "alice" and cert.dns_names == ("alice.clients.test",)
    assert not cert.has_private and not cert.is_ca
    assert 29 < (cert.not_after - cert.not_before).days - 1 <= 30


def test_parse_keeps_a_matching_key_and_refuses_another(pki: PKI) -> None:
    leaf, other = pki.client("a"), pki.client("b")
    assert parse_pem(cert_and_key(leaf)).has_private
    with pytest.raises(CertError, match="private key does not match"):
        parse_pem(cert_pem(leaf) + other.private_key_pem.bytes())


@pytest.mark.parametrize(
    "body", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"]
)
def test_parse_refuses_what_is_not_pem_with_tyks_message(body: bytes) -> None:
    with pytest.raises(CertError, match=NOT_PEM):
        parse_pem(body)


async def test_store_add_get_list_delete(pki: PKI, store: Store) -> None:
    certs = CertStore(store, "secret")
    leaf = pki.client("bob")
    new_id = await certs.add(cert_and_key(leaf), "org1")
    assert new_id == "org1" + cert_id(leaf)
    stored = await store.get(PREFIX + new_id)
    assert stored is not None and "ENCRYPTED PRIVATE KEY" in stored  # never the key in clear
    got = await certs.get(new_id)
    assert got is not None and got.common_name == "bob" and got.has_private
    assert (
        await certs.ids() == [new_id] and await certs.ids("org1") == [new_id] and await certs.ids("x") == []
    )
    with pytest.raises(CertError, match="already exists"):
        await certs.add(cert_pem(leaf), "org1")
    assert await certs.delete(new_id)
    assert await certs.get(new_id) is None


async def test_resolve_an_id_or_a_file(pki: PKI, store: Store, tmp_path: Path) -> None:
    certs = CertStore(store, "")
    leaf = pki.client("carol")
    stored = await certs.add(cert_pem(leaf))
    assert (await certs.resolve(stored)).id == stored
    path = write(tmp_path, "carol.pem", cert_and_key(leaf))
    assert (await certs.resolve(path)).has_private
    with pytest.raises(CertError, match="no such id or file"):
        await certs.resolve(str(tmp_path / "missing.pem"))
    with pytest.raises(CertError, match="no certificate with this id"):
        await certs.resolve("f" * 64)
    with pytest.raises(CertError, match="It should be PEM encoded"):
        await certs.resolve(write(tmp_path, "junk.pem", b"not a certificate"))
