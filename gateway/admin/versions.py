"""`GET /tyk/apis/{id}/versions` and `/tyk/apis/oas/{id}/versions`: a base API and its child versions, as
Tyk's VersionsHandler lists them (the base first, then the loaded children by version name; filters
`searchText` on the version name and `accessType` internal/external; no paging). Read-only.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.apis import NOT_FOUND, loaded
from gateway.admin.common import TykJSON, error
from gateway.admin.deps import AdminGateway
from gateway.apidef.classic_form import expiration, internal
from gateway.apidef.model import APISpec


def routes(gw: AdminGateway) -> list[Route]:
    async def versions(request: Request) -> Response:
        base = loaded(gw, request.path_params["api_id"])
        if base is None:
            return error(404, NOT_FOUND)
        search = request.query_params.get("searchText", "").lower()
        access = request.query_params.get("accessType", "")
        meta = base.versioning
        default = meta.name if meta.default == "self" else meta.default

        def passes(name: str, spec: APISpec) -> bool:
            if search and search not in name.lower():
                return False
            return access not in ("internal", "external") or internal(spec) == (access == "internal")

        def entry(name: str, spec: APISpec) -> dict[str, object]:
            return {
                "id": spec.api_id,
                "name": spec.name,
                "versionName": name,
                "internal": internal(spec),
                "expirationDate": expiration(spec),
                "isDefaultVersion": default == name,
            }

        children = [(name, loaded(gw, child)) for name, child in sorted(meta.children.items())]
        found = [entry(n, s) for n, s in children if s is not None and passes(n, s)]
        if passes(meta.name, base):
            found.insert(0, entry(meta.name, base))
        return TykJSON({"status": "success", "apis": found or None})  # Go: a nil slice is null

    return [
        Route("/tyk/apis/{api_id}/versions", versions, methods=["GET"]),
        Route("/tyk/apis/oas/{api_id}/versions", versions, methods=["GET"]),
    ]
