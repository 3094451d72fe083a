"""Real certificates for the TLS tests, made with trustme: a CA, a server certificate for 127.0.0.1, and
client certificates of any validity. Helpers write them to files and build client SSL contexts."""

from __future__ import annotations

import hashlib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization


class PKI:
    def __init__(self) -> None:
        self.ca = trustme.CA()
        self.server = self.ca.issue_cert("127.0.0.1", "localhost", common_name="gateway.test")

    def client(self, name: str, *, days: float = 365, start_days_ago: float = 1) -> trustme.LeafCert:
        """A client certificate named `name` valid until `days` from now (negative: already expired)."""
        now = datetime.now(UTC)
        return self.ca.issue_cert(
            f"{name}.clients.test",
            common_name=name,
            not_before=now - timedelta(days=start_days_ago),
            not_after=now + timedelta(days=days),
        )

    def client_context(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        """A client context trusting the test CA, presenting `leaf` when given."""
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        if leaf is not None:
            leaf.configure_cert(ctx)
        return ctx

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """A server context (an upstream): the test certificate, optionally requiring a client cert."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server.configure_cert(ctx)
        if require_client_cert:
            self.ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def server_config(self, tmp_path: Path) -> dict[str, Any]:
        """tyk.conf `http_server_options` serving HTTPS with the test server certificate."""
        cert, key = tmp_path / "server.pem", tmp_path / "server.key"
        cert.write_bytes(self.server.cert_chain_pems[0].bytes())
        key.write_bytes(self.server.private_key_pem.bytes())
        return {
            "use_ssl": True,
            "certificates": [{"domain_name": "", "cert_file": str(cert), "key_file": str(key)}],
        }

    def trust_file(self, tmp_path: Path) -> str:
        path = tmp_path / "ca.pem"
        path.write_bytes(self.ca.cert_pem.bytes())
        return str(path)


def cert_pem(leaf: trustme.LeafCert) -> bytes:
    return leaf.cert_chain_pems[0].bytes()


def cert_and_key(leaf: trustme.LeafCert) -> bytes:
    return cert_pem(leaf) + leaf.private_key_pem.bytes()


def cert_id(leaf: trustme.LeafCert) -> str:
    der = x509.load_pem_x509_certificate(cert_pem(leaf)).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)
