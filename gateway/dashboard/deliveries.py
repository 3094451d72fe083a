"""The Deliveries page: the first page of `GET /tyk/webhooks/deliveries` (newest first), filtered by state
with the REST API's `Filter`; resend of one delivery (`gw.resend`, same `webhook-id`) and of the failed
ones in bulk (`gw.resend_matching`, as `POST /tyk/webhooks/deliveries/resend`). It never builds or sends
a request itself, and the log holds no bodies or target query strings, so no raw key can be shown.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.dashboard.common import Dash, back_to, checked_form, text
from gateway.delivery.history import Filter
from gateway.log import get_logger

log = get_logger("dashboard")

STATES = ("failed", "retrying", "delivered")  # the filter links; "" (or anything else) shows all
# The bulk form's request id: the REST API's shape (printable, short), so a form sent twice resends once.
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,200}")


def when(unix: float) -> tuple[str, str]:
    """(ISO 8601 for the `datetime` attribute, the text shown)."""
    moment = datetime.fromtimestamp(unix, UTC)
    return moment.isoformat(timespec="seconds"), moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw

    async def listing(request: Request) -> Response:
        state = request.query_params.get("state", "")
        state = state if state in STATES else ""
        rows = [
            {**entry, "iso": when(entry["time"])[0], "when": when(entry["time"])[1]}
            for entry in (await gw.delivery_log.query(Filter(status=state or None)))[0]
        ]
        return await dash.page(
            request,
            "deliveries.html",
            deliveries=rows,
            state=state,
            states=STATES,
            request_id=uuid.uuid4().hex,
            title="Deliveries",
        )

    async def resend_failed(request: Request) -> Response:
        """The failed deliveries the page's first page shows (newest attempt failed), in bulk."""
        form = await checked_form(request)
        request_id = text(form, "request_id")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = ""  # no id: not idempotent, but still the same bulk path
        done = await gw.resend_matching(Filter(status="failed"), request_id)
        log.info("%d failed deliveries resent (dashboard)", done["resent"])
        missing = f"; {len(done['missing'])} no longer kept" if done["missing"] else ""
        return await back_to(
            dash, request, "/deliveries?state=failed", f"{done['resent']} failed deliveries resent{missing}."
        )

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
        Route("/dashboard/deliveries/resend", resend_failed, methods=["POST"]),
        Route("/dashboard/deliveries/{delivery_id}/resend", resend, methods=["POST"]),
    ]
