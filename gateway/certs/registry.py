"""The certificates each loaded API uses, resolved once per load: its mutual TLS allow list (as ids),
the client certificate (and SSL context) it presents to its upstream, and every other upstream
certificate it names (for the expiry scan only, whatever the target's scheme).

`resolve` turns an APISpec's references into certificates, or a ConfigError naming the API source,
the JSON path and the reference, so the app skips that API. Request-time work is a dict lookup.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from gateway.apidef import certs as certdef
from gateway.apidef.model import APISpec
from gateway.certs.monitor import CertExpiryMonitor, CertUse
from gateway.certs.store import CertError, Certificate, CertStore
from gateway.certs.tls import client_context
from gateway.config.model import Config
from gateway.errors import ConfigError
from gateway.log import get_logger

log = get_logger("certs")


@dataclass(frozen=True, slots=True)
class APICerts:
    allowed: frozenset[str] = frozenset()  # ids (hex SHA-256) a mutual TLS client may present
    client_uses: tuple[CertUse, ...] = ()
    upstream_use: CertUse | None = None
    upstream_ssl: ssl.SSLContext | None = None
    cas: tuple[x509.Certificate, ...] = ()  # CA certificates in the allow list
    # Upstream certificates this target never presents (an http target, another host): scanned only.
    scanned: tuple[CertUse, ...] = ()

    def accepts(self, presented_id: str, chain: list[str]) -> bool:
        """Tyk's ValidateRequestCerts: a listed certificate, or one a listed CA signed. The CA check
        parses the presented certificate, so it runs only when the id is not listed."""
        if presented_id in self.allowed:
            return True
        if not self.cas or not chain:
            return False
        try:
            leaf = x509.load_pem_x509_certificate(chain[0].encode())
        except ValueError:
            return False
        for ca in self.cas:
            try:
                leaf.verify_directly_issued_by(ca)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return True
        return False


@dataclass(slots=True)
class CertRegistry:
    apis: Mapping[str, APICerts] = field(default_factory=dict)
    monitor: CertExpiryMonitor | None = None

    def get(self, api_id: str) -> APICerts | None:
        return self.apis.get(api_id)

    def note(self, uses: Iterable[CertUse]) -> None:
        """Tell the expiry monitor these certificates were used (free while their cooldown holds)."""
        if self.monitor is not None:
            for use in uses:
                self.monitor.note(use)

    def uses(self) -> list[CertUse]:
        out: list[CertUse] = []
        for api in self.apis.values():
            out.extend(api.client_uses)
            if api.upstream_use is not None:
                out.append(api.upstream_use)
            out.extend(api.scanned)
        return out


def upstream_ref(mapping: Iterable[tuple[str, str]], target_url: str) -> tuple[str, str] | None:
    """Tyk's upstream certificate choice for a target: `host:port`, then `host`, then `*.parent`, then `*`."""
    parts = urlsplit(target_url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    host = parts.hostname.lower()
    table = dict(mapping)
    candidates = [f"{host}:{parts.port}"] if parts.port else []
    candidates.append(host)
    labels = host.split(".")
    candidates += ["*." + ".".join(labels[i:]) for i in range(1, len(labels))]
    candidates.append("*")
    for name in candidates:
        if name in table:
            return name, table[name]
    return None


async def resolve(spec: APISpec, store: CertStore, config: Config) -> APICerts | None:
    """The certificates of one API, or None when it names none; ConfigError when a reference fails."""
    spec_certs = spec.certs
    global_upstream = [(h.lower(), str(r)) for h, r in config.security.certificates.upstream.items()]
    chosen = upstream_ref(spec_certs.upstream, spec.target_url)
    from_global = chosen is None
    if chosen is None:
        chosen = upstream_ref(global_upstream, spec.target_url)
    if not spec_certs.mutual_tls and chosen is None and not spec_certs.upstream:
        return None

    async def one(ref: str, path: str) -> Certificate:
        try:
            return await store.resolve(ref)
        except CertError as exc:
            raise ConfigError(spec.source or spec.api_id, f"{path}: certificate {ref!r}: {exc}") from None

    client_uses: list[CertUse] = []
    if spec_certs.mutual_tls:
        for ref in spec_certs.client_certificates:
            cert = await one(ref, certdef.where(spec_certs, spec.format, ref, "client"))
            client_uses.append(CertUse(cert, spec.api_id, spec.org_id, "client"))
        for i, ref in enumerate(config.security.certificates.apis):
            cert = await one(str(ref), f"(tyk.conf security.certificates.apis[{i}])")
            client_uses.append(CertUse(cert, spec.api_id, spec.org_id, "client"))
    upstream_use, upstream_ssl = None, None
    if chosen is not None:
        host, ref = chosen
        path = (
            f"(tyk.conf security.certificates.upstream.{host})"
            if from_global
            else certdef.where(spec_certs, spec.format, ref, "upstream")
        )
        cert = await one(ref, path)
        try:
            upstream_ssl = client_context(cert)
        except (CertError, ssl.SSLError) as exc:
            raise ConfigError(spec.source or spec.api_id, f"{path}: certificate {ref!r}: {exc}") from None
        upstream_use = CertUse(cert, spec.api_id, spec.org_id, "upstream")
    scanned = await _unpresented(spec, store, chosen[1] if chosen is not None and not from_global else "")
    return APICerts(
        allowed=frozenset(use.cert.id for use in client_uses),
        client_uses=tuple(client_uses),
        upstream_use=upstream_use,
        upstream_ssl=upstream_ssl,
        cas=tuple(x509.load_der_x509_certificate(u.cert.der) for u in client_uses if u.cert.is_ca),
        scanned=tuple(scanned),
    )


async def _unpresented(spec: APISpec, store: CertStore, presented: str) -> list[CertUse]:
    """The API's upstream certificates other than the `presented` reference, for the expiry scan. They
    cannot fail the load (Tyk never reads them): a bad reference is logged and left out."""
    source = spec.source or spec.api_id
    refs = [
        (f"{source}: {certdef.where(spec.certs, spec.format, ref, 'upstream')}", ref)
        for ref in dict.fromkeys(ref for _, ref in spec.certs.upstream)
        if ref != presented
    ]
    return await _scanned(refs, store, spec.api_id, spec.org_id)


async def global_upstream(config: Config, store: CertStore) -> list[CertUse]:
    """tyk.conf's `security.certificates.upstream`, for the expiry scan whether or not an API presents
    them (api_id "": their events go to tyk.conf's handlers). A bad one is logged: those an API uses
    fail that API's load in `resolve`, and the gateway must keep serving the rest."""
    refs = [
        (f"tyk.conf: security.certificates.upstream.{host}", str(ref))
        for host, ref in config.security.certificates.upstream.items()
    ]
    return await _scanned(refs, store, "", "")


async def _scanned(refs: list[tuple[str, str]], store: CertStore, api_id: str, org_id: str) -> list[CertUse]:
    """Upstream certificates kept for the expiry scan only: each `(where, ref)` resolved, and one that
    fails logged at `where` and left out, since nothing presents it and nothing may fail for it."""
    uses: list[CertUse] = []
    for where, ref in refs:
        try:
            cert = await store.resolve(ref)
        except CertError as exc:
            log.warning("%s: certificate %r: %s", where, ref, exc)
            continue
        uses.append(CertUse(cert, api_id, org_id, "upstream"))
    return uses
