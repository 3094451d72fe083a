"""`/tyk/certs`: upload, list, read and delete certificates in the store, with Tyk's bodies and statuses.

Follows Tyk's `certHandler`: a POST body is a PEM certificate (chain), optionally followed by its private
key; the id is `<org_id><sha256 of the DER>`. A body that is not PEM is refused with Tyk's 403 and
message. It never logs a private key; APIs that reference a certificate pick it up on the next reload.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error, status
from gateway.admin.deps import AdminGateway
from gateway.certs.store import CertError
from gateway.log import get_logger

log = get_logger("admin")

NOT_FOUND = "Certificate with given SHA256 fingerprint not found"


def routes(gw: AdminGateway) -> list[Route]:
    async def collection(request: Request) -> Response:
        org_id = request.query_params.get("org_id", "")
        if request.method == "POST":
            try:
                new_id = await gw.cert_store.add(await request.body(), org_id)
            except CertError as exc:
                log.warning("refused a certificate upload: %s", exc)
                return error(403, str(exc))
            log.info("certificate %s added", new_id)
            return TykJSON({"id": new_id, "status": "ok", "message": "Certificate added"})
        ids = await gw.cert_store.ids(org_id)
        if request.query_params.get("mode") != "detailed":
            return TykJSON({"certs": ids or None})  # Go: a nil slice is null
        found = [(i, await gw.cert_store.get(i)) for i in ids]
        return TykJSON({"certs": [c.basics(i) for i, c in found if c is not None]})

    async def one(request: Request) -> Response:
        cert_id: str = request.path_params["cert_id"]
        if request.method == "DELETE":
            await gw.cert_store.delete(cert_id)
            log.info("certificate %s deleted", cert_id)
            return status(200, "ok", "removed")
        ids = cert_id.split(",")
        found = [await gw.cert_store.get(i) for i in ids]
        if len(ids) == 1:
            cert = found[0]
            return error(404, NOT_FOUND) if cert is None else TykJSON(cert.meta(cert_id))
        return TykJSON([None if c is None else c.meta(i) for i, c in zip(ids, found, strict=True)])

    return [
        Route("/tyk/certs", collection, methods=["GET", "POST"]),
        Route("/tyk/certs/", collection, methods=["GET", "POST"]),
        Route("/tyk/certs/{cert_id}", one, methods=["GET", "DELETE"]),
    ]
