"""`/tyk/certs` on both stores: Tyk's upload, list, read and delete bodies, and what a bad body gets."""

from __future__ import annotations

import pytest

from gateway.certs.store import PREFIX
from tests.admin.conftest import Admin
from tests.pki import PKI, cert_and_key, cert_id, cert_pem


@pytest.fixture(scope="module")
def pki() -> PKI:
    return PKI()


async def test_upload_list_get_delete(admin: Admin, pki: PKI) -> None:
    leaf = pki.client("api.example")
    added = await admin.call("POST", "/tyk/certs", content=cert_and_key(leaf))
    assert added.status_code == 200
    assert added.json() == {"id": cert_id(leaf), "status": "ok", "message": "Certificate added"}
    listed = await admin.call("GET", "/tyk/certs")
    assert listed.json() == {"certs": [cert_id(leaf)]}
    meta = (await admin.call("GET", f"/tyk/certs/{cert_id(leaf)}")).json()
    assert meta["id"] == meta["fingerprint"] == cert_id(leaf)
    assert meta["has_private"] is True and meta["is_ca"] is False
    assert meta["subject"]["CommonName"] == "api.example" and meta["dns_names"] == [
        "api.example.clients.test"
    ]
    assert meta["not_after"].endswith("Z") and meta["issuer"]["Organization"]
    again = await admin.call("POST", "/tyk/certs", content=cert_pem(leaf))
    assert again.status_code == 403
    assert again.json() == {
        "status": "error",
        "message": f"Certificate with {cert_id(leaf)} id already exists",
    }
    deleted = await admin.call("DELETE", f"/tyk/certs/{cert_id(leaf)}")
    assert deleted.json() == {"status": "ok", "message": "removed"}
    gone = await admin.call("GET", f"/tyk/certs/{cert_id(leaf)}")
    assert gone.status_code == 404
    assert gone.json() == {
        "status": "error",
        "message": "Certificate with given SHA256 fingerprint not found",
    }
    assert (await admin.call("GET", "/tyk/certs")).json() == {"certs": None}  # Go's nil slice


async def test_the_detailed_list_gives_each_certificates_basics(admin: Admin, pki: PKI) -> None:
    assert (await admin.call("GET", "/tyk/certs?mode=detailed")).json() == {"certs": []}
    with_key, public = pki.client("one.example"), pki.client("two.example")
    await admin.call("POST", "/tyk/certs?org_id=o1", content=cert_and_key(with_key))
    await admin.call("POST", "/tyk/certs?org_id=o1", content=cert_pem(public))
    await admin.call("POST", "/tyk/certs?org_id=o2", content=cert_pem(public))
    listed = (await admin.call("GET", "/tyk/certs?org_id=o1&mode=detailed")).json()["certs"]
    by_id = {entry["id"]: entry for entry in listed}
    assert set(by_id) == {"o1" + cert_id(with_key), "o1" + cert_id(public)}
    one = by_id["o1" + cert_id(with_key)]
    meta = (await admin.call("GET", f"/tyk/certs/o1{cert_id(with_key)}")).json()
    assert one == {
        "id": "o1" + cert_id(with_key),
        "issuer_cn": meta["issuer"]["CommonName"],
        "subject_cn": "one.example",
        "dns_names": ["one.example.clients.test"],
        "has_private": True,
        "not_before": meta["not_before"],
        "not_after": meta["not_after"],
        "is_ca": False,
    }
    assert by_id["o1" + cert_id(public)]["has_private"] is False


async def test_an_org_id_prefixes_the_id(admin: Admin, pki: PKI) -> None:
    leaf = pki.client("org.example")
    added = await admin.call("POST", "/tyk/certs?org_id=org7", content=cert_pem(leaf))
    assert added.json()["id"] == "org7" + cert_id(leaf)
    assert (await admin.call("GET", "/tyk/certs?org_id=org7")).json() == {"certs": ["org7" + cert_id(leaf)]}
    assert (await admin.call("GET", "/tyk/certs?org_id=other")).json() == {"certs": None}


@pytest.mark.parametrize("body", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n"])
async def test_a_body_that_is_not_pem_is_refused(admin: Admin, body: bytes) -> None:
    before = await admin.snapshot()
    resp = await admin.call("POST", "/tyk/certs", content=body)
    assert resp.status_code == 403  # Tyk's status for every refused upload
    assert resp.json() == {
        "status": "error",
        "message": "Failed to decode certificate. It should be PEM encoded.",
    }
    assert await admin.snapshot() == before
    assert not [k for k in before if k.startswith(PREFIX)]


async def test_a_key_for_another_certificate_is_refused(admin: Admin, pki: PKI) -> None:
    one, two = pki.client("one"), pki.client("two")
    resp = await admin.call("POST", "/tyk/certs", content=cert_pem(one) + two.private_key_pem.bytes())
    assert resp.status_code == 403 and "private key does not match" in resp.json()["message"]


async def test_the_secret_guards_it(admin: Admin) -> None:
    resp = await admin.client.get("/tyk/certs")
    assert resp.status_code == 403
