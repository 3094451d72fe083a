"""`/tyk/org/keys`: organisation sessions (`orgkey.<org>`), Tyk's handleOrgAddOrUpdate, handleGetOrgDetail
and handleDeleteOrgKey: the org's limits that `chain.org_limits` enforces with `enforce_org_quotas`.

As in Tyk, an org can be written or deleted only while some loaded API belongs to it, a write never
resets the org's quota counter unless `?reset_quota=1`, and no event fires. It never hashes org ids.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import Malformed, TykJSON, error, modified, read_object
from gateway.admin.deps import AdminGateway
from gateway.admin.keys import renews_at
from gateway.errors import ConfigError
from gateway.identity.limits import check_smoothing
from gateway.identity.session import Session
from gateway.log import get_logger

log = get_logger("admin")

ORG_NOT_FOUND = "Org not found"
NO_SUCH_ORG = "No such organisation found in Active API list"


def _session(body: dict[str, Any]) -> Session:
    try:
        session = Session.from_json(body, "request body")
        check_smoothing(body, "request body")
    except ConfigError as exc:
        # Tyk's generic 400 for the client; the field and value go to the log.
        log.warning("refused an org session body: %s", exc.reason)
        raise Malformed(exc.reason) from None
    return session


def routes(gw: AdminGateway) -> list[Route]:
    def known(org_id: str) -> bool:
        return any(spec.org_id == org_id for spec in gw.specs())

    async def detail(request: Request) -> Response:
        org_id = request.path_params["org_id"]
        session = await gw.sessions.get_org(org_id) if known(org_id) else None
        if session is None:
            return error(404, ORG_NOT_FOUND)
        return TykJSON(session.to_json())

    async def listing(request: Request) -> Response:
        return TykJSON({"keys": await gw.sessions.list_orgs()})

    async def write(request: Request) -> Response:
        """POST adds, PUT modifies: both store the body as the org's session."""
        org_id = request.path_params["org_id"]
        session = _session(await read_object(request))
        if not known(org_id):
            return error(404, NO_SUCH_ORG)
        if request.query_params.get("reset_quota") == "1":
            await gw.sessions.reset_org_quota(org_id, session)
            session = session.with_updates(quota_renews=renews_at(time.time(), session))
        await gw.sessions.save_org(org_id, session)
        action = "added" if request.method == "POST" else "modified"
        log.info("org session %s %s", org_id, action)
        return modified(org_id, action)

    async def remove(request: Request) -> Response:
        org_id = request.path_params["org_id"]
        if not known(org_id):
            return error(404, NO_SUCH_ORG)
        if not await gw.sessions.delete_org(org_id):
            return error(400, "Failed to remove the key")
        log.info("org session %s deleted", org_id)
        return modified(org_id, "deleted")

    async def dispatch(request: Request) -> Response:
        if request.method == "GET":
            return await (detail(request) if request.path_params.get("org_id") else listing(request))
        if request.method == "DELETE":
            return await remove(request)
        return await write(request)

    return [
        Route("/tyk/org/keys", dispatch, methods=["GET"]),
        Route("/tyk/org/keys/", dispatch, methods=["GET"]),
        Route("/tyk/org/keys/{org_id}", dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
