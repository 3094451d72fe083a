"""`GET /tyk/webhooks/deliveries`: the retained webhook attempts (every gateway's on Redis), newest first,
paged; `POST /tyk/webhooks/deliveries/{delivery_id}/resend`: one delivery accepted again; `POST
/tyk/webhooks/deliveries/resend`: the dead letters a filter names, in bulk, idempotent per request id;
`GET /tyk/events` and `POST /tyk/events/replay`: the accepted events kept, and their replay to a global
webhook; and `GET /tyk/events/stats`: what the event system did since this gateway started, as counts.

Filters (`api_id`, `handler`, `event`, `status`, `target`, `since` / `until` as Unix seconds or RFC 3339,
`limit`, `before`) are checked here: a bad one is a 400 naming it. The log holds no bodies and no target
query strings, so no raw API key can be shown; a resend shows none either, and a kept event's `Key` is
shown redacted as logs show it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error, read_object
from gateway.admin.deps import AdminGateway
from gateway.delivery.history import MAX_LIMIT, STATUSES, Filter, valid_cursor
from gateway.errors import ConfigError
from gateway.log import redact_key

TEXT = ("api_id", "handler", "event", "target")
BULK = frozenset({*TEXT, "status", "since", "until", "limit", "before", "request_id"})
EVENTS = ("event", "api_id", "since", "until", "limit", "before")  # what filters kept events
REPLAY = frozenset({*EVENTS, "webhook_id", "request_id"})
# A request id: the client's token, printable and short (it names store keys, hashed).
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,200}")


def _time(name: str, raw: object) -> float:
    """Unix seconds, or an RFC 3339 time with its offset; ValueError naming the field."""
    try:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return float(raw)
        if isinstance(raw, str):
            if raw.replace(".", "", 1).isdigit():
                return float(raw)
            when = datetime.fromisoformat(raw)
            if when.tzinfo is not None:  # RFC 3339 always has one: a local time would depend on the host
                return when.timestamp()
    except ValueError:
        pass
    raise ValueError(f"{name}: {raw!r} is neither Unix seconds nor an RFC 3339 time")


def _limit(raw: object) -> int:
    if isinstance(raw, str) and raw.isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_LIMIT:
        raise ValueError(f"limit: {raw!r} is not a whole number from 1 to {MAX_LIMIT}")
    return raw


def parse(fields: Mapping[str, Any], default_status: str | None = None) -> Filter:
    """A Filter from query parameters or a JSON body; ValueError naming the field."""
    text: dict[str, str | None] = {}
    for name in TEXT:
        raw = fields.get(name)
        if raw is not None and not isinstance(raw, str):
            raise ValueError(f"{name}: {raw!r} is not a string")
        text[name] = raw
    status = fields.get("status", default_status)
    if status is not None and status not in STATUSES:
        raise ValueError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    before = fields.get("before")
    if before is not None and not (isinstance(before, str) and valid_cursor(before)):
        raise ValueError(f"before: {before!r} is not a cursor (a listing's `next`)")
    since, until = fields.get("since"), fields.get("until")
    return Filter(
        api_id=text["api_id"],
        handler=text["handler"],
        event=text["event"],
        target=text["target"],
        status=status,
        since=None if since is None else _time("since", since),
        until=None if until is None else _time("until", until),
        before=before,
        limit=100 if fields.get("limit") is None else _limit(fields["limit"]),
    )


def _request_id(request: Request, body: Mapping[str, Any]) -> str:
    """The body's `request_id`, else the `Idempotency-Key` header, else ""; ValueError naming it."""
    found = body.get("request_id", request.headers.get("idempotency-key", ""))
    if found != "" and not (isinstance(found, str) and _REQUEST_ID.fullmatch(found)):
        raise ValueError(f"request_id: {found!r} is not 1 to 200 printable characters")
    return str(found)


def _only(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a field of {what} (one of {', '.join(sorted(allowed))})")


def _shown(kept: dict[str, Any]) -> dict[str, Any]:
    meta = dict(kept.get("meta", {}))
    if isinstance(meta.get("Key"), str) and meta["Key"]:
        meta["Key"] = redact_key(meta["Key"])
    return {**kept, "meta": meta}


def routes(gw: AdminGateway) -> list[Route]:
    async def listing(request: Request) -> Response:
        try:
            want = parse(request.query_params)
        except ValueError as exc:
            return error(400, str(exc))
        attempts, after = await gw.delivery_log.query(want)
        return TykJSON({"deliveries": attempts, "count": len(attempts), "next": after})

    async def resend(request: Request) -> Response:
        delivery_id: str = request.path_params["delivery_id"]
        if not await gw.resend(delivery_id):
            return error(404, f"Delivery {delivery_id!r} not found (no longer kept)")
        return TykJSON({"status": "ok", "action": "resent"})

    async def resend_many(request: Request) -> Response:
        body = await read_object(request)
        try:
            _only(body, BULK, "a bulk resend")
            request_id = _request_id(request, body)
            want = parse(body, default_status="failed")
        except ValueError as exc:
            return error(400, str(exc))
        return TykJSON(await gw.resend_matching(want, request_id))

    async def events(request: Request) -> Response:
        query = request.query_params
        try:
            want = parse({name: query[name] for name in EVENTS if name in query})
        except ValueError as exc:
            return error(400, str(exc))
        kept, after = await gw.kept_events(want)
        return TykJSON({"events": [_shown(k) for k in kept], "count": len(kept), "next": after})

    async def replay(request: Request) -> Response:
        body = await read_object(request)
        webhook_id = body.get("webhook_id")
        try:
            _only(body, REPLAY, "an event replay")
            if not isinstance(webhook_id, str) or not webhook_id:
                raise ValueError(f"webhook_id: {webhook_id!r} is not a global webhook's id")
            request_id = _request_id(request, body)
            want = parse({name: body[name] for name in EVENTS if name in body})
        except ValueError as exc:
            return error(400, str(exc))
        try:
            return TykJSON(await gw.replay_events(webhook_id, want, request_id))
        except KeyError:
            return error(400, f"webhook_id: no global webhook {webhook_id!r}")
        except ConfigError as exc:
            return error(400, f"webhook_id: {webhook_id!r} cannot be built: {exc}")

    async def stats(request: Request) -> Response:
        return TykJSON(gw.event_stats())

    return [
        Route("/tyk/webhooks/deliveries", listing, methods=["GET"]),
        Route("/tyk/webhooks/deliveries/resend", resend_many, methods=["POST"]),
        Route("/tyk/webhooks/deliveries/{delivery_id}/resend", resend, methods=["POST"]),
        Route("/tyk/events/stats", stats, methods=["GET"]),
        Route("/tyk/events", events, methods=["GET"]),
        Route("/tyk/events/replay", replay, methods=["POST"]),
    ]
