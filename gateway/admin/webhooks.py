"""`/tyk/webhooks`: the global webhooks APIs reference by `id` (Tyk's Dashboard keeps these; we keep them
in the store, so every gateway on it sees the same ones).

A body is checked as its handler would be built and refused with 400 naming the field, storing nothing;
tyk.conf's webhooks are listed but cannot be changed here (409). Secrets and credential-like headers are
masked in every answer. As with `/tyk/apis`, APIs pick up a change on the next reload. `POST
/tyk/webhooks/{id}/test` sends one sample event now and answers with what the target answered; `GET
/tyk/webhooks/signing-keys` publishes the Ed25519 public keys receivers verify `v1a` signatures with.
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error, modified, read_object
from gateway.admin.deps import AdminGateway
from gateway.errors import ConfigError
from gateway.handlers import global_webhooks
from gateway.log import get_logger

log = get_logger("admin")

NOT_FOUND = "Webhook not found"
FROM_CONFIG = "this webhook is defined in tyk.conf and cannot be changed through the API"


def routes(gw: AdminGateway) -> list[Route]:
    async def everything() -> dict[str, dict[str, Any]]:
        return await global_webhooks.all_webhooks(gw.store, gw.configured_webhooks)

    async def collection(request: Request) -> Response:
        if request.method == "GET":
            listed = [global_webhooks.masked(w) for w in (await everything()).values()]
            return TykJSON({"webhooks": listed})
        raw = await read_object(request)
        raw.setdefault("id", uuid.uuid4().hex)
        return await write(raw, "added")

    async def one(request: Request) -> Response:
        webhook_id: str = request.path_params["webhook_id"]
        found = (await everything()).get(webhook_id)
        if request.method == "GET":
            return error(404, NOT_FOUND) if found is None else TykJSON(global_webhooks.masked(found))
        if webhook_id in gw.configured_webhooks:
            return error(409, FROM_CONFIG)
        if request.method == "DELETE":
            if not await global_webhooks.remove(gw.store, webhook_id):
                return error(404, NOT_FOUND)
            log.info("global webhook %s deleted", webhook_id)
            return modified(webhook_id, "deleted")
        if found is None:
            return error(404, NOT_FOUND)
        raw = await read_object(request)
        if raw.setdefault("id", webhook_id) != webhook_id:
            return error(400, "the body's id does not match the id in the path")
        return await write(raw, "modified")

    async def write(raw: dict[str, Any], action: str) -> Response:
        if str(raw.get("id")) in gw.configured_webhooks:
            return error(409, FROM_CONFIG)
        try:
            webhook = gw.check_webhook(raw, f"webhook {raw.get('id')!r}")
        except ConfigError as exc:
            return error(400, str(exc))
        await global_webhooks.save(gw.store, webhook)
        log.info("global webhook %s %s", webhook["id"], action)
        return modified(webhook["id"], action)

    async def test(request: Request) -> Response:
        try:
            return TykJSON(await gw.test_webhook(request.path_params["webhook_id"]))
        except KeyError:
            return error(404, NOT_FOUND)

    async def signing_keys(request: Request) -> Response:
        return TykJSON({"keys": await gw.signing_keys()})

    return [
        # First: /tyk/webhooks/{webhook_id} would take "signing-keys" for an id.
        Route("/tyk/webhooks/signing-keys", signing_keys, methods=["GET"]),
        Route("/tyk/webhooks/{webhook_id}/test", test, methods=["POST"]),
        Route("/tyk/webhooks", collection, methods=["GET", "POST"]),
        Route("/tyk/webhooks/", collection, methods=["GET", "POST"]),
        Route("/tyk/webhooks/{webhook_id}", one, methods=["GET", "PUT", "DELETE"]),
    ]
