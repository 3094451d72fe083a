"""`GET /tyk/schema?oasVersion=`: the JSON Schema of an OAS API definition this gateway takes, in Tyk's
envelope (`status` "Success"/"Failed"). The schema is the gateway's own: an OpenAPI 3.0 or 3.1 root with
the `x-tyk-api-gateway` fields it reads (package data), not Tyk's full schema. Read-only.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON

VERSIONS = ("3.0", "3.1")
DEFAULT = "3.0"  # as in Tyk, which keeps 3.0 the default though it embeds 3.1 too


@cache
def schema(version: str) -> dict[str, Any]:
    text = resources.files("gateway.apidef").joinpath("schema/x-tyk-api-gateway.json").read_text("utf-8")
    defs = "definitions" if version == "3.0" else "$defs"
    extension = json.loads(text.replace("#/definitions/", f"#/{defs}/"))
    definitions = extension.pop("definitions")
    return {
        "$schema": "http://json-schema.org/draft-04/schema#"
        if version == "3.0"
        else "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["openapi", "info", "paths", "x-tyk-api-gateway"],
        "properties": {
            "openapi": {"type": "string", "pattern": rf"^{re.escape(version)}\.\d+(-.+)?$"},
            "info": {"type": "object", "required": ["title", "version"]},
            "servers": {"type": "array", "items": {"type": "object", "required": ["url"]}},
            "paths": {"type": "object"},
            "components": {"type": "object"},
            "security": {"type": "array", "items": {"type": "object"}},
            "x-tyk-api-gateway": extension,
        },
        defs: definitions,
    }


def routes() -> list[Route]:
    async def endpoint(request: Request) -> Response:
        asked = request.query_params.get("oasVersion", "")
        if not asked:
            return TykJSON({"status": "Success", "message": "", "schema": schema(DEFAULT)})
        match = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?", asked)
        if match is None:
            return TykJSON({"status": "Failed", "message": f"Malformed version: {asked}"}, status_code=404)
        version = f"{match[1]}.{match[2] or 0}"
        if version not in VERSIONS:
            message = f"Schema not found for version {json.dumps(asked)}"
            return TykJSON({"status": "Failed", "message": message}, status_code=404)
        return TykJSON({"status": "Success", "message": "", "schema": schema(version)})

    return [Route("/tyk/schema", endpoint, methods=["GET"])]
