"""Tyk's OAS document operations beyond plain CRUD: export (`/tyk/apis/oas/{id}/export`, `/export`, with
`?mode=public` dropping `x-tyk-api-gateway`), import of a plain OpenAPI document and PATCH, both driven by
Tyk's query parameters (gateway.apidef.oas_import). Writes go through `apis.save`, so they are validated
and written the same way as a POST or PUT, and served after the next reload.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.apis import EXT, NOT_FOUND, NOT_MIGRATED, OAS_GET_FOR_CLASSIC, loaded, public, save
from gateway.admin.common import error
from gateway.admin.deps import AdminGateway
from gateway.apidef import oas_import
from gateway.apidef.model import APISpec

MALFORMED = "request malformed"  # lower case here, as Tyk's validateOAS says it
WITH_EXTENSION = "the import payload should not contain x-tyk-api-gateway"


def export(body: Any, filename: str) -> Response:
    """Tyk's doJSONExport: a two-space indented attachment, no trailing newline."""
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False),
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment;filename="{filename}"'},
    )


async def read_document(request: Request) -> tuple[dict[str, Any] | None, Response | None]:
    """The body as an OpenAPI document (JSON, or YAML as Tyk's loader also reads), or Tyk's 400."""
    body = await request.body()
    try:
        doc = yaml.safe_load(body)  # YAML is a superset of JSON, so this reads both
    except yaml.YAMLError:
        return None, error(400, MALFORMED)
    if not isinstance(doc, dict):
        return None, error(400, MALFORMED)
    problem = oas_import.document_error(doc)
    return (None, error(400, problem)) if problem else (doc, None)


def routes(gw: AdminGateway) -> list[Route]:
    def oas_api(api_id: str) -> tuple[APISpec | None, Response | None]:
        spec = loaded(gw, api_id)
        if spec is None:
            return None, error(404, NOT_FOUND)
        return (None, error(400, OAS_GET_FOR_CLASSIC)) if spec.format != "oas" else (spec, None)

    async def export_one(request: Request) -> Response:
        api_id: str = request.path_params["api_id"]
        spec, refusal = oas_api(api_id)
        if spec is None:
            return refusal or error(404, NOT_FOUND)
        bare = request.query_params.get("mode") == "public"
        name = f"oas-{api_id}.json" if bare else f"TykOasApiDef-{api_id}.json"
        return export(public(spec.raw, bare), name)

    async def export_all(request: Request) -> Response:
        bare = request.query_params.get("mode") == "public"
        docs = [public(s.raw, bare) for s in gw.specs() if s.format == "oas"]
        return export(docs, "oas.json" if bare else "TykOasApiDef.json")

    async def import_document(request: Request) -> Response:
        doc, refusal = await read_document(request)
        if doc is None:
            return refusal or error(400, MALFORMED)
        if EXT in doc:
            return error(400, WITH_EXTENSION)
        try:
            built = oas_import.build(doc, oas_import.params(request.query_params), importing=True)
        except oas_import.ImportRefused as exc:
            return error(400, str(exc))
        return await save(gw, built, True, None)

    async def patch(request: Request) -> Response:
        doc, refusal = await read_document(request)
        if doc is None:
            return refusal or error(400, MALFORMED)
        api_id = request.path_params["api_id"].strip()
        if not api_id:
            return error(400, "Must specify an apiID to patch")
        spec = loaded(gw, api_id)
        if spec is None:
            return error(404, NOT_FOUND)
        if spec.format != "oas":
            return error(400, NOT_MIGRATED)
        given = oas_import.params(request.query_params)
        if EXT in doc and not given:
            return await save(gw, doc, True, api_id)  # a whole definition: a PUT
        # A merge: the sent OpenAPI part, the sent or current extension, the current servers if none sent.
        current = dict(spec.raw)
        merged = {**doc, EXT: doc.get(EXT, current.get(EXT))}
        if "servers" not in doc and "servers" in current:
            merged["servers"] = current["servers"]
        try:
            built = oas_import.build(merged, given, importing=False) if given else merged
        except oas_import.ImportRefused as exc:
            return error(400, str(exc))
        return await save(gw, built, True, api_id)

    return [
        Route("/tyk/apis/oas/export", export_all, methods=["GET"]),
        Route("/tyk/apis/oas/import", import_document, methods=["POST"]),
        Route("/tyk/apis/oas/{api_id}/export", export_one, methods=["GET"]),
        Route("/tyk/apis/oas/{api_id}", patch, methods=["PATCH"]),
    ]
