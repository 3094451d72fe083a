"""The Live events page and its Server-Sent Events stream: events as they fire (type, API, key redacted,
message), filtered by API and event, first the gateway's recent ones, then each new one; breaker and
host events always (the health panel follows them whatever the filter).

It only reads the gateway's live feed (`gw.live`, bounded per subscriber) and sends no more of an event
than the page shows: never its originating request (which could carry a raw key in a header).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gateway.dashboard.apis import EVENTS
from gateway.dashboard.common import Dash

HEALTH = ("BreakerTripped", "BreakerReset", "HostDown", "HostUp")
KEEPALIVE = 15.0  # seconds between comments on a quiet stream: a closed tab is noticed by the next write


def shown(item: Any) -> dict[str, Any]:
    """What the page shows of one live event (gateway/events/live.py's LiveEvent)."""
    meta = item.meta if isinstance(item.meta, dict) else {}
    info = meta.get("HostInfo") or meta.get("host_info") or {}
    data = info.get("MetaData", {}) if isinstance(info, dict) else {}
    return {
        "seq": item.seq,
        "time": item.time,
        "event": item.event,
        "api_id": item.api_id,
        "key": item.key,  # redacted by the feed (log.redact_key)
        "message": item.message,
        "path": str(meta.get("Path") or meta.get("path") or ""),
        "host": str(data.get("host_name") or (info.get("CheckURL") if isinstance(info, dict) else "") or ""),
    }


def frame(item: Any, matches: bool) -> bytes:
    payload = {**shown(item), "listed": matches}
    return f"id: {item.seq}\ndata: {json.dumps(payload, default=str)}\n\n".encode()


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw

    async def page(request: Request) -> Response:
        query = request.query_params
        return await dash.page(
            request,
            "events.html",
            apis=sorted(gw.specs(), key=lambda s: s.name),
            events=EVENTS,
            chosen={"api_id": query.get("api_id", ""), "event": query.get("event", "")},
            title="Live events",
        )

    async def stream(request: Request) -> Response:
        api_id = request.query_params.get("api_id", "")
        event = request.query_params.get("event", "")
        # EventSource sends the last id it saw when it reconnects: what it already has is not sent again.
        last = request.headers.get("last-event-id", "")
        sent = int(last) if last.isdigit() else -1

        def wanted(item: Any) -> tuple[bool, bool]:
            matches = (not api_id or item.api_id == api_id) and (not event or item.event == event)
            return matches or item.event in HEALTH, matches

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            yield b"retry: 2000\n\n"
            follower = gw.live.follow()
            # Subscribed before the recent ones are read, so nothing fired in between is missed; what
            # both give is sent once (by seq).
            waiting = asyncio.ensure_future(anext(follower))
            try:
                await asyncio.sleep(0)
                for item in gw.live.recent():
                    send, matches = wanted(item)
                    if item.seq > sent and send:
                        sent = item.seq
                        yield frame(item, matches)
                while True:
                    done, _ = await asyncio.wait({waiting}, timeout=KEEPALIVE)
                    if not done:
                        yield b": keepalive\n\n"
                        continue
                    try:
                        item = waiting.result()
                    except StopAsyncIteration:  # the gateway stops
                        return
                    waiting = asyncio.ensure_future(anext(follower))
                    send, matches = wanted(item)
                    if item.seq > sent and send:
                        sent = item.seq
                        yield frame(item, matches)
            finally:
                waiting.cancel()
                with contextlib.suppress(BaseException):
                    await waiting
                closing = getattr(follower, "aclose", None)
                if closing is not None:
                    with contextlib.suppress(Exception):
                        await closing()

        headers = {"cache-control": "no-store", "x-accel-buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)

    return [
        Route("/dashboard/events", page, methods=["GET"]),
        Route("/dashboard/events/stream", stream, methods=["GET"]),
    ]
