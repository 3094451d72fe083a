"""Static mutual TLS (Tyk's CertificateCheck): the client certificate of the TLS connection must be one
of the API's allowed certificates (Classic `client_certificates`, OAS `server.clientCertificates`, plus
tyk.conf `security.certificates.apis`).

A listed CA certificate admits the certificates it signed. Plain HTTP: 403 `TLS not enabled`; no
certificate: 403 `Client TLS certificate is required`; another one: 403 `Certificate with SHA256 <id>
not allowed`. An accepted request hands the whole allow list to the expiry monitor, as Tyk does. It
fires no event of its own and never reads certificates: the registry resolved them at load.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.apidef.model import APISpec
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import Reject

CERT_REQUIRED = "Client TLS certificate is required"
TLS_NOT_ENABLED = "TLS not enabled"


class CertificateCheck:
    name: ClassVar[str] = "cert_check"

    def __init__(self, spec: APISpec, config: Config) -> None:
        self.api_id = spec.api_id

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.certs.mutual_tls

    async def on_request(self, ctx: RequestContext) -> None:
        extensions = ctx.scope.get("extensions") or {}
        tls = extensions.get("tls")
        if tls is None:
            raise Reject(403, TLS_NOT_ENABLED)
        presented: str = tls.get("client_cert_id", "")
        if not presented:
            raise Reject(403, CERT_REQUIRED)
        registry = ctx.services.certs
        api = registry.get(self.api_id)
        if api is None or not api.accepts(presented, tls.get("client_cert_chain", [])):
            raise Reject(403, f"Certificate with SHA256 {presented} not allowed")
        registry.note(api.client_uses)
