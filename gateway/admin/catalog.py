"""`GET /tyk/events/catalog`: the JSON Schemas of every event (its meta, the default webhook body, the
CloudEvents envelope); `GET /tyk/events/asyncapi.json`: the AsyncAPI 3.0 document of the webhooks sent.

Both are built per request from the catalogue and the default template this gateway would render
(template_path's default_webhook.json, else the packaged one): nothing here is kept or written.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import __version__
from gateway.admin.common import TykJSON
from gateway.admin.deps import AdminGateway
from gateway.events import asyncapi
from gateway.events.catalog import Event
from gateway.handlers import preview


def routes(gw: AdminGateway) -> list[Route]:
    def bodies() -> dict[Event, dict[str, Any]]:
        config = gw.config
        return preview.body_schemas(preview.default_template(config.config_dir, config.template_path))

    async def catalog(request: Request) -> Response:
        return TykJSON(asyncapi.catalog(bodies(), __version__))

    async def document(request: Request) -> Response:
        events = gw.config.events
        retry = {
            "max_attempts": events.retry_max_attempts,
            "max_elapsed": events.retry_max_elapsed,
            "base_delay": events.retry_base_delay,
            "max_delay": events.retry_max_delay,
        }
        return TykJSON(asyncapi.asyncapi(bodies(), __version__, retry))

    return [
        Route("/tyk/events/catalog", catalog, methods=["GET"]),
        Route("/tyk/events/asyncapi.json", document, methods=["GET"]),
    ]
