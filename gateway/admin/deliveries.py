"""`GET /tyk/webhooks/deliveries`: the last webhook attempts of this gateway, newest first;
`POST /tyk/webhooks/deliveries/{delivery_id}/resend`: one of them accepted again; and
`GET /tyk/events/stats`: what the event system did since this gateway started, as counts.

Optional `api_id` and `handler` query parameters narrow the log to one API and/or one handler. The log
holds no bodies and no target query strings, so no raw API key can be shown; a resend shows none either.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error
from gateway.admin.deps import AdminGateway


def routes(gw: AdminGateway) -> list[Route]:
    async def listing(request: Request) -> Response:
        query = request.query_params
        attempts = gw.delivery_log.entries(query.get("api_id"), query.get("handler"))
        return TykJSON({"deliveries": attempts, "count": len(attempts)})

    async def resend(request: Request) -> Response:
        delivery_id: str = request.path_params["delivery_id"]
        if not await gw.resend(delivery_id):
            return error(404, f"Delivery {delivery_id!r} not found (no longer kept by this gateway)")
        return TykJSON({"status": "ok", "action": "resent"})

    async def stats(request: Request) -> Response:
        return TykJSON(gw.event_stats())

    return [
        Route("/tyk/webhooks/deliveries", listing, methods=["GET"]),
        Route("/tyk/webhooks/deliveries/{delivery_id}/resend", resend, methods=["POST"]),
        Route("/tyk/events/stats", stats, methods=["GET"]),
    ]
