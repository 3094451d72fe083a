"""The APIs pages: each loaded API with its event handlers; attach a global webhook to an event with a
cooldown, or detach a handler, as Tyk's API Designer panel does.

A change is made to the API's definition as written (Classic `event_handlers.events`, or OAS
`x-tyk-api-gateway.server.eventHandlers`), saved by the REST API's own save (`admin/apis.py`: checked
as a load would, written atomically, refused for YAML-managed files), then a group reload.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin import apis as admin_apis
from gateway.apidef.model import APISpec
from gateway.dashboard.common import Dash, back_to, checked_form, text
from gateway.dashboard.webhook_form import shown_target
from gateway.errors import ConfigError
from gateway.events.catalog import Event
from gateway.handlers import global_webhooks
from gateway.log import get_logger

log = get_logger("dashboard")

EXT = admin_apis.EXT
EVENTS = tuple(e.value for e in Event)
STALE = "The definition changed since this page was shown: reload the page and try again."
_INDEX = re.compile(r"\[(\d+)\]$")


def handler_rows(spec: APISpec) -> list[dict[str, Any]]:
    """One row per handler as written: its event, kind, webhook (a global id or a target), cooldown, and
    its position in the definition's list (what a detach names)."""
    rows = []
    for handler in spec.event_handlers:
        found = _INDEX.search(handler.where)
        meta = handler.meta
        rows.append(
            {
                "event": handler.event,
                "kind": handler.kind,
                "webhook_id": str(meta.get("id") or ""),
                "target": shown_target(meta.get("target_path")),
                "cooldown": meta.get("event_timeout", ""),
                "index": found.group(1) if found else "",
            }
        )
    return rows


def attached(raw: dict[str, Any], oas: bool, event: str, webhook_id: str, cooldown: int) -> dict[str, Any]:
    """The definition with a handler referencing the global webhook (docs/events.md, "Global webhooks")."""
    raw = copy.deepcopy(raw)
    if oas:
        server = raw[EXT].setdefault("server", {})
        entry = {"enabled": True, "trigger": event, "type": "webhook", "id": webhook_id}
        if cooldown:
            entry["cooldownPeriod"] = f"{cooldown}s"
        server.setdefault("eventHandlers", []).append(entry)
        return raw
    meta: dict[str, Any] = {"id": webhook_id}
    if cooldown:
        meta["event_timeout"] = cooldown
    events = raw.setdefault("event_handlers", {}).setdefault("events", {})
    events.setdefault(event, []).append({"handler_name": "eh_web_hook_handler", "handler_meta": meta})
    return raw


def detached(raw: dict[str, Any], oas: bool, event: str, index: int) -> dict[str, Any]:
    """The definition without that handler; KeyError, IndexError or ValueError if it is not there."""
    raw = copy.deepcopy(raw)
    if oas:
        entries = raw[EXT]["server"]["eventHandlers"]
        if entries[index].get("trigger") != event:
            raise ValueError(event)
        del entries[index]
        return raw
    events = raw["event_handlers"]["events"]
    del events[event][index]
    if not events[event]:
        del events[event]
    return raw


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw

    def spec_of(api_id: str) -> APISpec:
        spec = admin_apis.loaded(gw, api_id)
        if spec is None:
            raise HTTPException(404, f"No API {api_id!r} is loaded.")
        return spec

    async def listing(request: Request) -> Response:
        return await dash.page(
            request, "apis.html", apis=sorted(gw.specs(), key=lambda s: s.name), title="APIs"
        )

    async def show(
        request: Request, spec: APISpec, status: int = 200, error: str = "", **kept: str
    ) -> Response:
        webhooks = await global_webhooks.all_webhooks(gw.store, gw.configured_webhooks)
        return await dash.page(
            request,
            "api.html",
            status=status,
            api=spec,
            handlers=handler_rows(spec),
            events=EVENTS,
            webhooks=sorted(webhooks.items()),
            error=error,
            kept=kept,
            title=f"API {spec.name}",
        )

    async def one(request: Request) -> Response:
        return await show(request, spec_of(request.path_params["api_id"]))

    async def attach(request: Request) -> Response:
        form = await checked_form(request)
        spec = spec_of(request.path_params["api_id"])
        event, webhook_id, cooldown = text(form, "event"), text(form, "webhook_id"), text(form, "cooldown")
        kept = {"event": event, "webhook_id": webhook_id, "cooldown": cooldown}
        if event not in EVENTS:
            return await show(request, spec, 400, f"Event: {event!r} is not one of Tyk's events.", **kept)
        if webhook_id not in await global_webhooks.all_webhooks(gw.store, gw.configured_webhooks):
            return await show(request, spec, 400, f"Webhook: no global webhook {webhook_id!r}.", **kept)
        seconds = int(cooldown) if cooldown.isdigit() else -1 if cooldown else 0
        if seconds < 0:
            return await show(request, spec, 400, "Cooldown: whole seconds, 0 or more.", **kept)
        raw = attached(dict(spec.raw), spec.format == "oas", event, webhook_id, seconds)
        return await saved(request, spec, raw, f"Webhook {webhook_id!r} attached to {event}.", kept)

    async def detach(request: Request) -> Response:
        form = await checked_form(request)
        spec = spec_of(request.path_params["api_id"])
        event, index = text(form, "event"), text(form, "index")
        try:
            raw = detached(dict(spec.raw), spec.format == "oas", event, int(index))
        except (KeyError, IndexError, ValueError, TypeError, AttributeError):
            return await show(request, spec, 409, STALE)
        return await saved(request, spec, raw, f"Handler for {event} detached.", {})

    async def saved(
        request: Request, spec: APISpec, raw: dict[str, Any], done: str, kept: dict[str, str]
    ) -> Response:
        answer = await admin_apis.save(gw, raw, spec.format == "oas", spec.api_id)
        if answer.status_code != 200:
            message = json.loads(bytes(answer.body)).get("message", "the definition was refused")
            return await show(request, spec, answer.status_code, f"Not saved: {message}", **kept)
        log.info("API %r event handlers changed (dashboard): %s", spec.api_id, done)
        # As Tyk's Dashboard does after a save: this gateway reloads, then every other one on the store
        # (the other `--workers` processes read the same app_path).
        try:
            await gw.reload_group()
        except ConfigError as exc:
            log.error("reload after a dashboard change failed: %s", exc)
            return await back_to(
                dash, request, f"/apis/{quote(spec.api_id)}", f"{done} Saved; reload failed: {exc}"
            )
        return await back_to(
            dash, request, f"/apis/{quote(spec.api_id)}", f"{done} Saved; the gateway reloaded."
        )

    return [
        Route("/dashboard/apis", listing, methods=["GET"]),
        Route("/dashboard/apis/{api_id}", one, methods=["GET"]),
        Route("/dashboard/apis/{api_id}/handlers/attach", attach, methods=["POST"]),
        Route("/dashboard/apis/{api_id}/handlers/detach", detach, methods=["POST"]),
    ]
