"""`GET /tyk/webhooks/deliveries`: the last webhook attempts of this gateway, newest first;
`POST /tyk/webhooks/deliveries/{delivery_id}/resend`: one of them accepted again; and
`GET /tyk/events/stats`: what the event system did since this gateway started, as counts.

Optional `api_id`, `handler`, `event`, `status` (the outcome) and `since` / `until` (Unix seconds or RFC
3339) query parameters narrow the log; a bad `status` or time is a 400 naming it. The log
holds no bodies and no target query strings, so no raw API key can be shown; a resend shows none either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error
from gateway.admin.deps import AdminGateway

# `status`: an attempt's outcome as the log writes it.
OUTCOMES = ("delivered", "retrying", "given up", "gone")


def _time(query: Mapping[str, str], name: str) -> float | None:
    """`since` / `until`: Unix seconds, or an RFC 3339 time with its offset; ValueError naming the value."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        if raw.replace(".", "", 1).isdigit():
            return float(raw)
        when = datetime.fromisoformat(raw)
        if when.tzinfo is None:  # RFC 3339 always has one: a local time would depend on the host
            raise ValueError(raw)
        return when.timestamp()
    except ValueError:
        raise ValueError(f"{name}: {raw!r} is neither Unix seconds nor an RFC 3339 time") from None


def routes(gw: AdminGateway) -> list[Route]:
    async def listing(request: Request) -> Response:
        query = request.query_params
        status = query.get("status")
        if status is not None and status not in OUTCOMES:
            return error(400, f"status: {status!r} is not one of {', '.join(OUTCOMES)}")
        try:
            since, until = _time(query, "since"), _time(query, "until")
        except ValueError as exc:
            return error(400, str(exc))
        event = query.get("event")
        attempts = [
            a
            for a in gw.delivery_log.entries(query.get("api_id"), query.get("handler"))
            if (status is None or a["outcome"] == status)
            and (event is None or a["event"] == event)
            and (since is None or a["time"] >= since)
            and (until is None or a["time"] < until)
        ]
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
