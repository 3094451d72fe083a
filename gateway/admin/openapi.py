"""`GET /tyk/openapi.json`: this REST API described for machines, the hand-written OpenAPI 3.0 document
`admin/openapi.yaml` (package data) served as JSON, behind the secret like every `/tyk/` path.

It serves the file as written, read once: it never builds the document from the routes nor edits it per
request (tests/admin/test_openapi.py holds the two together and runs the document against the gateway).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import go_json

PATH = "/tyk/openapi.json"


@cache
def document() -> dict[str, Any]:
    """The document as the YAML file holds it (its status codes quoted, so every key is a string)."""
    text = resources.files("gateway.admin").joinpath("openapi.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


@cache
def _rendered() -> bytes:
    return go_json(document())


def routes() -> list[Route]:
    async def endpoint(request: Request) -> Response:
        return Response(_rendered(), media_type="application/json")

    return [Route(PATH, endpoint, methods=["GET"])]
