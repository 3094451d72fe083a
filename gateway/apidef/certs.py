"""The certificates an API definition names: static mutual TLS (the client allow list) and the client
certificates presented to the upstream, for both formats, into a `CertSpec`.

Pure: references are checked for shape only; whether an id is in the store or a file exists is decided
when the API loads (app/gateway.py), which skips the API naming the same JSON path.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, show
from gateway.apidef.model import CertSpec

X = "$.x-tyk-api-gateway"


def _refs(r: Reader, values: list[Any], path: str) -> tuple[str, ...]:
    for i, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise r.fail(f"{path}[{i}]", f"expected a certificate id or file path, got {show(value)}")
    return tuple(v.strip() for v in values)


def classic(r: Reader, doc: dict[str, Any]) -> CertSpec:
    mutual = r.flag(doc, "use_mutual_tls_auth", "$")
    clients = _refs(r, r.items(doc, "client_certificates", "$"), "$.client_certificates")
    upstream: list[tuple[str, str]] = []
    if not r.flag(doc, "upstream_certificates_disabled", "$"):
        for host, ref in r.obj(doc, "upstream_certificates", "$").items():
            if not isinstance(ref, str) or not ref.strip():
                raise r.fail(
                    f"$.upstream_certificates.{host}",
                    f"expected a certificate id or file path, got {show(ref)}",
                )
            upstream.append((host.strip().lower(), ref.strip()))
    return CertSpec(mutual_tls=mutual, client_certificates=clients, upstream=tuple(upstream))


def oas(r: Reader, server: dict[str, Any], upstream: dict[str, Any]) -> CertSpec:
    path = f"{X}.server.clientCertificates"
    block = r.obj(server, "clientCertificates", f"{X}.server")
    mutual = r.flag(block, "enabled", path)
    clients = _refs(r, r.items(block, "allowlist", path), f"{path}.allowlist") if mutual else ()
    upath = f"{X}.upstream.mutualTLS"
    mtls = r.obj(upstream, "mutualTLS", f"{X}.upstream")
    pairs: list[tuple[str, str]] = []
    if r.flag(mtls, "enabled", upath):
        for i, entry in enumerate(r.items(mtls, "domainToCertificateMapping", upath)):
            at = f"{upath}.domainToCertificateMapping[{i}]"
            if not isinstance(entry, dict):
                raise r.fail(at, f'expected {{"domain": ..., "certificate": ...}}, got {show(entry)}')
            domain, ref = r.text(entry, "domain", at).strip(), r.text(entry, "certificate", at).strip()
            if not domain or not ref:
                raise r.fail(at, f"required: a domain and a certificate, got {show(entry)}")
            pairs.append((domain.lower(), ref))
    return CertSpec(mutual_tls=mutual, client_certificates=clients, upstream=tuple(pairs))


def where(spec_certs: CertSpec, fmt: str, ref: str, role: str) -> str:
    """The JSON path that names `ref`, for a load-time error about it."""
    if role == "client":
        if fmt == "oas":
            i = spec_certs.client_certificates.index(ref)
            return f"{X}.server.clientCertificates.allowlist[{i}]"
        return f"$.client_certificates[{spec_certs.client_certificates.index(ref)}]"
    hosts = [host for host, r in spec_certs.upstream if r == ref]
    if fmt == "oas":
        i = [r for _, r in spec_certs.upstream].index(ref)
        return f"{X}.upstream.mutualTLS.domainToCertificateMapping[{i}].certificate"
    return f"$.upstream_certificates.{hosts[0] if hosts else '*'}"
