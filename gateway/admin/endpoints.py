"""`GET /tyk/webhooks/endpoints`: every webhook target (scheme://host:port) this gateway process sends
to, with its state: `active` or `paused` (since when, why, the next probe), failed attempts in a row,
attempts in flight, deliveries waiting on it, its cap and rate (delivery/targets.py).

Read-only and per process, as the targets' state is: nothing here pauses or resumes a target.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error
from gateway.admin.deps import AdminGateway

STATES = ("active", "paused")


def routes(gw: AdminGateway) -> list[Route]:
    async def listing(request: Request) -> Response:
        found = gw.webhook_endpoints()
        state = request.query_params.get("state")  # only the targets in this state
        if state is not None:
            if state not in STATES:
                return error(400, f"state: {state!r} is not one of {', '.join(STATES)}")
            found = [e for e in found if e["state"] == state]
        return TykJSON({"endpoints": found, "count": len(found)})

    return [Route("/tyk/webhooks/endpoints", listing, methods=["GET"])]
