"""`POST /tyk/templates/preview`: a webhook template rendered against a sample event of any catalogued
type, inline (`template`) or a file found only under tyk.conf template_path (`template_path`).

Nothing is sent, stored or loaded into a handler; handlers/preview.py renders. A request it cannot
render is a 400 naming the field and the value (the parser's message for a template that does not parse).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error, read_object
from gateway.admin.deps import AdminGateway
from gateway.handlers.preview import PreviewError, preview


def routes(gw: AdminGateway) -> list[Route]:
    async def render(request: Request) -> Response:
        body = await read_object(request)
        try:
            return TykJSON(preview(body, gw.config.config_dir, gw.config.template_path))
        except PreviewError as exc:
            return error(400, str(exc))

    return [Route("/tyk/templates/preview", render, methods=["POST"])]
