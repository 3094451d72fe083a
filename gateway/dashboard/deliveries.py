"""The Deliveries page: the delivery log (what `GET /tyk/webhooks/deliveries` shows, newest first), and
resend, which hands a logged delivery to the outbox again under the same `webhook-id`.

The log holds no bodies and no target query strings, so nothing here can show a raw key. Resend goes
through the gateway (`gw.resend`): this page never builds or sends a request itself.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.dashboard.common import Dash, back_to, checked_form
from gateway.log import get_logger

log = get_logger("dashboard")


def when(unix: float) -> tuple[str, str]:
    """(ISO 8601 for the `datetime` attribute, the text shown)."""
    moment = datetime.fromtimestamp(unix, UTC)
    return moment.isoformat(timespec="seconds"), moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw

    async def listing(request: Request) -> Response:
        rows = [
            {**entry, "iso": when(entry["time"])[0], "when": when(entry["time"])[1]}
            for entry in gw.delivery_log.entries()
        ]
        return await dash.page(request, "deliveries.html", deliveries=rows, title="Deliveries")

    async def resend(request: Request) -> Response:
        await checked_form(request)
        delivery_id: str = request.path_params["delivery_id"]
        if await gw.resend(delivery_id):
            log.info("delivery %s resent (dashboard)", delivery_id)
            return await back_to(
                dash, request, "/deliveries", f"Delivery {delivery_id} queued to be sent again."
            )
        return await back_to(
            dash, request, "/deliveries", f"Delivery {delivery_id} is no longer kept: not resent."
        )

    return [
        Route("/dashboard/deliveries", listing, methods=["GET"]),
        Route("/dashboard/deliveries/{delivery_id}/resend", resend, methods=["POST"]),
    ]
