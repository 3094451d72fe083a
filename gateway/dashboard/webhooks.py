"""The Webhooks pages: list, create, edit, delete and test the global webhooks, the same objects (and the
same store keys and checks) as the REST API's `/tyk/webhooks`.

A wrong field answers the form again (400) with the values kept and a message on that field, saving
nothing. tyk.conf's webhooks are shown read-only. Secrets and credential headers are never shown.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.dashboard import webhook_form
from gateway.dashboard.common import Dash, back_to, checked_form
from gateway.errors import ConfigError
from gateway.handlers import global_webhooks
from gateway.log import get_logger

log = get_logger("dashboard")

READ_ONLY = "This webhook is defined in tyk.conf: change it there and restart the gateway."


def routes(dash: Dash) -> list[Route]:
    gw = dash.gw

    async def everything() -> dict[str, dict[str, Any]]:
        return await global_webhooks.all_webhooks(gw.store, gw.configured_webhooks)

    async def listing(request: Request) -> Response:
        rows = [
            {
                "id": webhook_id,
                "name": webhook.get("name") or "",
                "method": str(webhook.get("method") or "GET").upper(),
                "target": webhook_form.shown_target(webhook.get("target_path")),
                "headers": list(global_webhooks.masked(webhook).get("header_map", {}).items()),
                "cooldown": webhook.get("event_timeout", ""),
                "configured": webhook_id in gw.configured_webhooks,
            }
            for webhook_id, webhook in sorted((await everything()).items())
        ]
        return await dash.page(request, "webhooks.html", webhooks=rows, title="Webhooks")

    async def form_page(
        request: Request,
        webhook_id: str | None,
        values: dict[str, str],
        status: int = 200,
        errors: dict[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        return await dash.page(
            request,
            "webhook_form.html",
            status=status,
            webhook_id=webhook_id,
            values=values,
            errors=errors or {},
            methods=webhook_form.METHODS,
            read_only=webhook_id in gw.configured_webhooks,
            test_result=extra.pop("test_result", None),
            title="New webhook" if webhook_id is None else f"Webhook {values.get('name') or webhook_id}",
            **extra,
        )

    async def found(webhook_id: str) -> dict[str, Any]:
        webhook = (await everything()).get(webhook_id)
        if webhook is None:
            raise HTTPException(404, f"No webhook {webhook_id!r}.")
        return webhook

    async def new(request: Request) -> Response:
        if request.method == "GET":
            return await form_page(request, None, webhook_form.values_of({"method": "POST"}))
        return await save(request, None, {"id": uuid.uuid4().hex})

    async def one(request: Request) -> Response:
        webhook_id: str = request.path_params["webhook_id"]
        webhook = await found(webhook_id)
        if request.method == "GET":
            return await form_page(request, webhook_id, webhook_form.values_of(webhook))
        return await save(request, webhook_id, webhook)

    async def save(request: Request, webhook_id: str | None, stored: dict[str, Any]) -> Response:
        form = await checked_form(request)
        if webhook_id in gw.configured_webhooks:
            return await form_page(
                request, webhook_id, webhook_form.values_of(stored), 409, {"form": READ_ONLY}
            )
        webhook, values, errors = webhook_form.parse(form, stored)
        if not errors:
            try:
                webhook = gw.check_webhook(webhook, f"webhook {webhook['id']!r}")
            except ConfigError as exc:
                errors[webhook_form.field_of(exc.reason)] = exc.reason
        if errors:
            return await form_page(request, webhook_id, values, 400, errors)
        await global_webhooks.save(gw.store, webhook)
        log.info("global webhook %s %s (dashboard)", webhook["id"], "modified" if webhook_id else "added")
        return await back_to(
            dash, request, "/webhooks", f"Webhook {webhook.get('name') or webhook['id']!r} saved."
        )

    async def delete(request: Request) -> Response:
        await checked_form(request)
        webhook_id: str = request.path_params["webhook_id"]
        webhook = await found(webhook_id)
        if webhook_id in gw.configured_webhooks:
            return await form_page(
                request, webhook_id, webhook_form.values_of(webhook), 409, {"form": READ_ONLY}
            )
        await global_webhooks.remove(gw.store, webhook_id)
        log.info("global webhook %s deleted (dashboard)", webhook_id)
        return await back_to(
            dash, request, "/webhooks", f"Webhook {webhook.get('name') or webhook_id!r} deleted."
        )

    async def test(request: Request) -> Response:
        await checked_form(request)
        webhook_id: str = request.path_params["webhook_id"]
        webhook = await found(webhook_id)
        try:
            result = await gw.test_webhook(webhook_id)
        except KeyError:
            raise HTTPException(404, f"No webhook {webhook_id!r}.") from None
        if request.headers.get("hx-request") == "true":  # htmx swaps the result in place
            return dash.fragment("test_result.html", test_result=result)
        return await form_page(request, webhook_id, webhook_form.values_of(webhook), test_result=result)

    return [
        Route("/dashboard/webhooks", listing, methods=["GET"]),
        Route("/dashboard/webhooks/new", new, methods=["GET", "POST"]),
        Route("/dashboard/webhooks/{webhook_id}", one, methods=["GET", "POST"]),
        Route("/dashboard/webhooks/{webhook_id}/delete", delete, methods=["POST"]),
        Route("/dashboard/webhooks/{webhook_id}/test", test, methods=["POST"]),
    ]
