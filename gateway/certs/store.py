"""The certificate store (Tyk's CertificateManager): PEM parsing, ids, and certificates kept in the store
under `raw-<id>` or read from a file path.

A certificate's id is the lower-case hex SHA-256 of its DER (Tyk's), prefixed by the org id when one
is given on upload. It owns no per-request work: references are resolved when APIs load. A private key
is kept in the store encrypted with the gateway secret, never in clear.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from gateway.store.base import Store

PREFIX = "raw-"
NOT_PEM = "Failed to decode certificate. It should be PEM encoded."
_BEGIN = b"-----BEGIN "
_SHA256_HEX = 64
_KEY_BLOCK = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.S)


class CertError(ValueError):
    """A certificate that cannot be used: not PEM, unreadable, unknown id, key not matching."""


@dataclass(frozen=True, slots=True)
class Certificate:
    id: str  # hex SHA-256 of the leaf's DER (no org prefix)
    der: bytes
    pem: str  # the certificate chain, PEM, leaf first
    # The private key, unencrypted PEM ("" when the certificate came without one): never in a repr.
    key_pem: str = field(repr=False)
    common_name: str
    subject: dict[str, object]  # Go's pkix.Name as Tyk's JSON shows it
    issuer: dict[str, object]
    not_before: datetime
    not_after: datetime
    dns_names: tuple[str, ...]
    is_ca: bool

    @property
    def has_private(self) -> bool:
        return bool(self.key_pem)

    def meta(self, cert_id: str) -> dict[str, object]:
        """Tyk's CertificateMeta as `GET /tyk/certs/{id}` shows it."""
        return {
            "id": cert_id,
            "fingerprint": self.id,
            "has_private": self.has_private,
            "issuer": self.issuer,
            "subject": self.subject,
            "not_before": _rfc3339(self.not_before),
            "not_after": _rfc3339(self.not_after),
            "dns_names": list(self.dns_names),
            "is_ca": self.is_ca,
        }

    def basics(self, cert_id: str) -> dict[str, object]:
        """Tyk's CertificateBasics, an entry of `GET /tyk/certs?mode=detailed`."""
        return {
            "id": cert_id,
            "issuer_cn": self.issuer.get("CommonName", ""),
            "subject_cn": self.subject.get("CommonName", ""),
            "dns_names": list(self.dns_names) or None,  # Go: a nil slice is null
            "has_private": self.has_private,
            "not_before": _rfc3339(self.not_before),
            "not_after": _rfc3339(self.not_after),
            "is_ca": self.is_ca,
        }


def cert_id(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def parse_pem(data: bytes, password: bytes | None = None) -> Certificate:
    """A PEM certificate chain, optionally followed by its private key (encrypted with `password`)."""
    if _BEGIN not in data:
        raise CertError(NOT_PEM)
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        chain = []
    if not chain:
        raise CertError(NOT_PEM)
    leaf = chain[0]
    key_pem = _private_key(data, password, leaf)
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    der = leaf.public_bytes(serialization.Encoding.DER)
    names = leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return Certificate(
        id=cert_id(der),
        der=der,
        pem=pem,
        key_pem=key_pem,
        common_name=str(names[0].value) if names else "",
        subject=_go_name(leaf.subject),
        issuer=_go_name(leaf.issuer),
        not_before=leaf.not_valid_before_utc,
        not_after=leaf.not_valid_after_utc,
        dns_names=_dns_names(leaf),
        is_ca=_is_ca(leaf),
    )


def _private_key(data: bytes, password: bytes | None, leaf: x509.Certificate) -> str:
    match = _KEY_BLOCK.search(data)
    if match is None:
        return ""
    block = match.group(0)
    try:
        key = serialization.load_pem_private_key(block, password=password if b"ENCRYPTED" in block else None)
    except (ValueError, TypeError) as exc:
        raise CertError(f"Failed to decode the private key: {exc}") from None
    ours = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    theirs = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if ours != theirs:
        raise CertError("tls: private key does not match public key")
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


_GO_NAME_FIELDS = (
    ("Country", NameOID.COUNTRY_NAME),
    ("Organization", NameOID.ORGANIZATION_NAME),
    ("OrganizationalUnit", NameOID.ORGANIZATIONAL_UNIT_NAME),
    ("Locality", NameOID.LOCALITY_NAME),
    ("Province", NameOID.STATE_OR_PROVINCE_NAME),
    ("StreetAddress", NameOID.STREET_ADDRESS),
    ("PostalCode", NameOID.POSTAL_CODE),
)


def _go_name(name: x509.Name) -> dict[str, object]:
    """Go's pkix.Name JSON: lists of values (null when absent), then SerialNumber and CommonName."""
    out: dict[str, object] = {}
    for field_name, oid in _GO_NAME_FIELDS:
        values = [str(a.value) for a in name.get_attributes_for_oid(oid)]
        out[field_name] = values or None
    serial = name.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    common = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    out["SerialNumber"] = str(serial[0].value) if serial else ""
    out["CommonName"] = str(common[0].value) if common else ""
    return out


def _dns_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(ext.value.get_values_for_type(x509.DNSName))


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CertStore:
    """Certificates in the store (`raw-<id>`) and on disk, parsed once per distinct content."""

    def __init__(self, store: Store, secret: str, base_dir: str = ".") -> None:
        self._store = store
        self._base_dir = base_dir  # relative file references resolve here (the tyk.conf folder)
        self._password = secret.encode() if secret else None
        self._parsed: dict[str, Certificate] = {}  # sha256 of the stored text -> parsed

    async def add(self, data: bytes, org_id: str = "") -> str:
        """Tyk's Add: parse, refuse a duplicate, store under `raw-<org><sha256>`; the new id."""
        cert = parse_pem(data)
        new_id = org_id + cert.id
        if await self._store.get(PREFIX + new_id) is not None:
            raise CertError(f"Certificate with {new_id} id already exists")
        stored = cert.pem
        if cert.key_pem:
            key = serialization.load_pem_private_key(cert.key_pem.encode(), password=None)
            encryption = (
                serialization.BestAvailableEncryption(self._password)
                if self._password
                else serialization.NoEncryption()
            )
            stored += key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            ).decode()
        await self._store.set(PREFIX + new_id, stored)
        return new_id

    async def get(self, ident: str) -> Certificate | None:
        """A stored certificate by id, or None."""
        text = await self._store.get(PREFIX + ident)
        return None if text is None else self._parse(text.encode())

    async def ids(self, org_id: str = "") -> list[str]:
        return sorted(k[len(PREFIX) :] for k in await self._store.keys(PREFIX + org_id))

    async def delete(self, ident: str) -> bool:
        return await self._store.delete(PREFIX + ident)

    async def resolve(self, ref: str) -> Certificate:
        """Tyk's lookup: a certificate id from the store, else a file path; CertError saying which failed."""
        found = await self.get(ref) if ref else None
        if found is not None:
            return found
        try:
            data = await asyncio.to_thread(_read, os.path.join(self._base_dir, ref))
        except OSError as exc:
            looks_like_id = len(ref) >= _SHA256_HEX and all(c in "0123456789abcdef" for c in ref[-64:])
            what = "no certificate with this id in the store" if looks_like_id else "no such id or file"
            raise CertError(f"{what} ({exc.strerror or exc})") from None
        try:
            return self._parse(data)
        except CertError as exc:
            raise CertError(f"file {ref!r}: {exc}") from None

    def _parse(self, data: bytes) -> Certificate:
        digest = hashlib.sha256(data).hexdigest()
        cert = self._parsed.get(digest)
        if cert is None:
            cert = parse_pem(data, self._password)
            self._parsed[digest] = cert
        return cert


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()
