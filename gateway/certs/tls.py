"""TLS for the server and the upstream client: SSL contexts from certificates, and the uvicorn protocol
that hands the client certificate to the app as the ASGI TLS extension (uvicorn does not).

The server asks for a client certificate only once some API uses mutual TLS; which certificate may
call which API is the cert_check middleware's decision, not the handshake's. The peer certificate is
read once per connection, never per request.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import tempfile
from collections.abc import Iterable, Sequence

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.certs.store import CertError, Certificate, parse_pem
from gateway.config.model import Config
from gateway.errors import ConfigError


def load_chain(ctx: ssl.SSLContext, cert: Certificate) -> None:
    """Load a certificate and its key into a context (ssl reads them only from a file)."""
    if not cert.key_pem:
        raise CertError(f"certificate {cert.id} has no private key")
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as handle:
        handle.write(cert.pem + cert.key_pem)
        handle.flush()
        ctx.load_cert_chain(handle.name)


def client_context(cert: Certificate) -> ssl.SSLContext:
    """An upstream client context: the system's trust (SSL_CERT_FILE honoured) plus our certificate."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    load_chain(ctx, cert)
    return ctx


class ServerTLS:
    """The server's contexts: a default one and one per `domain_name` (chosen by SNI)."""

    def __init__(self, certs: Sequence[tuple[str, Certificate]]) -> None:
        self.certificates = tuple(cert for _, cert in certs)
        self._by_domain: dict[str, ssl.SSLContext] = {}
        self.context = self._new(certs[0][1])
        for domain, cert in certs:
            if domain and domain.lower() not in self._by_domain:
                self._by_domain[domain.lower()] = self._new(cert)
        if self._by_domain:
            self.context.sni_callback = self._pick
        self._trusted: set[str] = set()

    @staticmethod
    def _new(cert: Certificate) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        load_chain(ctx, cert)
        return ctx

    def _pick(self, sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        chosen = self._by_domain.get((name or "").lower())
        if chosen is not None:
            sock.context = chosen

    def request_client_certs(self, allowed: Iterable[Certificate]) -> None:
        """Ask clients for a certificate, and let the handshake accept these ones (leaf or chain).

        OpenSSL cannot ask without verifying, so the allowed certificates become trust anchors (partial
        chains allowed): a certificate no API lists fails the handshake, one listed for another API
        reaches the middleware, which answers 403. Anchors are only ever added: a context cannot forget
        one, and the middleware still checks each API's own list.
        """
        new = [c for c in allowed if c.id not in self._trusted]
        if not new:
            return
        for ctx in (self.context, *self._by_domain.values()):
            ctx.load_verify_locations(cadata="".join(c.pem for c in new))
            ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            ctx.verify_mode = ssl.CERT_OPTIONAL
        self._trusted.update(c.id for c in new)


def server_tls(config: Config) -> ServerTLS | None:
    """`http_server_options.use_ssl` with its `certificates` and `ssl_certificates`; ConfigError if bad."""
    options = config.http_server_options
    if not options.use_ssl:
        return None
    found: list[tuple[str, Certificate]] = []
    for i, entry in enumerate(options.certificates):
        key = f"http_server_options.certificates[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError("tyk.conf", f'key "{key}": expected {{"domain_name", "cert_file", "key_file"}}')
        files = [str(entry.get("cert_file") or ""), str(entry.get("key_file") or "")]
        found.append((str(entry.get("domain_name") or ""), _from_files(config, key, files)))
    for i, path in enumerate(options.ssl_certificates):
        found.append(("", _from_files(config, f"http_server_options.ssl_certificates[{i}]", [str(path)])))
    if not found:
        raise ConfigError("tyk.conf", 'key "http_server_options.use_ssl": true, but no certificates are set')
    return ServerTLS(found)


def _from_files(config: Config, key: str, paths: list[str]) -> Certificate:
    data = b""
    for path in filter(None, paths):
        full = os.path.join(config.config_dir, path)
        try:
            with open(full, "rb") as handle:
                data += handle.read() + b"\n"
        except OSError as exc:
            raise ConfigError("tyk.conf", f'key "{key}": cannot read {path!r}: {exc.strerror}') from None
    try:
        cert = parse_pem(data)
    except CertError as exc:
        raise ConfigError("tyk.conf", f'key "{key}": {exc}') from None
    if not cert.key_pem:
        raise ConfigError("tyk.conf", f'key "{key}": no private key found')
    return cert


class TLSProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus the ASGI TLS extension: `scope["extensions"]["tls"]` carries
    `client_cert_chain` (PEM) and, for the gateway, `client_cert_id` (hex SHA-256 of the DER)."""

    _tls: dict[object, object] | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            self._tls = None
            return
        der = ssl_object.getpeercert(binary_form=True)
        self._tls = {
            "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
            "client_cert_id": hashlib.sha256(der).hexdigest() if der else "",
            "tls_version": ssl_object.version(),
        }

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            self.scope["extensions"] = {"tls": self._tls}
