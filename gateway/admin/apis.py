"""`/tyk/apis` and `/tyk/apis/oas`: read the loaded definitions, write and delete files in app_path.

A body is validated with the same parser the loader uses (and refused, as a load would refuse it, for a
template outside template_path or an address the outbound policy denies); only a valid one is written,
atomically (temp file + rename), so a reload never sees half a file. As in Tyk, a written API is
served after the next reload, not at once. Ids become file names, so path separators are refused.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.common import TykJSON, error, file_managed, modified, read_object
from gateway.admin.deps import AdminGateway
from gateway.apidef.classic_form import classic_form
from gateway.apidef.loader import parse
from gateway.apidef.model import APISpec
from gateway.errors import ConfigError
from gateway.log import get_logger

log = get_logger("admin")

NOT_FOUND = "API not found"
CLASSIC_EXPECTED = (
    "this API endpoint only supports Tyk Classic APIs; please use the appropriate Tyk OAS API endpoint"
)
NOT_MIGRATED = "the supplied API definition is in OAS format, please use the Tyk classic format for this API"
OAS_GET_FOR_CLASSIC = "the requested API definition is in Tyk classic format, please use old api endpoint"
NO_EXTENSION = "the payload should contain x-tyk-api-gateway"
ID_MISMATCH = "Request APIID does not match that in Definition! For Update operations these must match."
EXT = "x-tyk-api-gateway"


def bad_id(api_id: str) -> str:
    """Why `api_id` cannot name a file in app_path, or "" when it can."""
    if not api_id or api_id in (".", "..") or any(c in api_id for c in "/\\\x00"):
        return f"invalid API id {json.dumps(api_id)}: it must be a file name, without path separators"
    if len(api_id) > 200:
        return "invalid API id: longer than 200 characters"
    return ""


def body_id(raw: dict[str, Any], oas: bool) -> Any:
    if not oas:
        return raw.get("api_id")
    info = raw.get(EXT, {}).get("info") if isinstance(raw.get(EXT), dict) else None
    return info.get("id") if isinstance(info, dict) else None


def write_atomically(path: str, raw: dict[str, Any]) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)  # a gateway started without app_path gets it on first POST
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # not *.json: never loaded
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


def public(doc: Mapping[str, Any], bare: bool) -> dict[str, Any]:
    """An OAS document, without Tyk's extension for `?mode=public` (as swagger.yml documents it; Tyk's
    code honours it only on the exports)."""
    return {k: v for k, v in doc.items() if k != EXT} if bare else dict(doc)


def loaded(gw: AdminGateway, api_id: str) -> APISpec | None:
    return next((s for s in gw.specs() if s.api_id == api_id), None)


def base_of(gw: AdminGateway, api_id: str) -> dict[str, str]:
    """Tyk's `x-tyk-base-api-id` header when the API is a child version of a loaded base API."""
    base = next((s for s in gw.specs() if api_id in s.versioning.children.values()), None)
    return {"x-tyk-base-api-id": base.api_id} if base is not None else {}


def file_for(gw: AdminGateway, api_id: str) -> str:
    """The loaded file when it sits in app_path (its name may not be `<id>.json`), else `<id>.json`."""
    app_path = os.path.abspath(gw.config.app_path)
    spec = loaded(gw, api_id)
    if spec is not None and spec.source and os.path.dirname(os.path.abspath(spec.source)) == app_path:
        return os.path.abspath(spec.source)
    return os.path.join(app_path, api_id + ".json")


async def save(gw: AdminGateway, raw: dict[str, Any], oas: bool, api_id: str | None) -> Response:
    """POST (api_id None) or PUT: validate the whole definition, then write it; nothing written on error."""
    if oas and not isinstance(raw.get(EXT), dict):
        return error(400, NO_EXTENSION)
    if api_id is None and not body_id(raw, oas):
        raw = _with_new_id(raw, oas)  # Tyk gives a posted definition without an id a fresh one
    given = body_id(raw, oas)
    if api_id is not None and given != api_id:
        return error(400, ID_MISMATCH)
    if isinstance(given, str) and bad_id(given):
        return error(400, bad_id(given))
    try:
        spec = parse(raw, "request body")
    except ConfigError as exc:
        return error(400, exc.reason)
    if bad_id(spec.api_id):  # an id the parser derived is a file name too
        return error(400, bad_id(spec.api_id))
    if spec.format != ("oas" if oas else "classic"):
        return error(400, NO_EXTENSION if oas else CLASSIC_EXPECTED)
    held = loaded(gw, spec.api_id)
    if held is not None and held.managed_by:
        return file_managed("API", spec.api_id, held.managed_by)
    clash = next(
        (
            s
            for s in gw.specs()
            if s.api_id != spec.api_id
            and (s.domain.lower(), s.listen_path) == (spec.domain.lower(), spec.listen_path)
        ),
        None,
    )
    if clash is not None:
        return error(400, f"listen path {spec.listen_path!r} is already used by API {clash.api_id!r}")
    try:
        await gw.check_api(spec)  # a template outside template_path, an address the policy refuses
    except ConfigError as exc:
        where = exc.where.removeprefix(spec.source).strip()  # the JSON path, without "request body"
        return error(400, f"{where}: {exc.reason}" if where else exc.reason)
    path = file_for(gw, spec.api_id)
    try:
        await asyncio.to_thread(write_atomically, path, raw)
    except OSError as exc:
        log.error("cannot write %s: %s", path, exc)
        return error(500, "file object creation failed, write error")
    log.info("API %r written to %s", spec.api_id, path)
    return modified(spec.api_id, "added" if api_id is None else "modified")


def routes(gw: AdminGateway) -> list[Route]:
    async def collection(request: Request) -> Response:
        oas = request.url.path.rstrip("/").endswith("/oas")
        if request.method == "POST":
            return await save(gw, await read_object(request), oas, None)
        if oas:
            bare = request.query_params.get("mode") == "public"
            return TykJSON([public(s.raw, bare) for s in gw.specs() if s.format == "oas"])
        return TykJSON([classic_form(s) for s in gw.specs()])  # OAS APIs too, in their Classic form

    async def one(request: Request) -> Response:
        api_id: str = request.path_params["api_id"]
        oas = request.url.path.startswith("/tyk/apis/oas/")
        if bad_id(api_id):
            return error(400, bad_id(api_id))
        spec = loaded(gw, api_id)
        if spec is None:
            return error(404, NOT_FOUND)
        if request.method == "GET":
            if oas and spec.format != "oas":
                return error(400, OAS_GET_FOR_CLASSIC)
            body = (
                public(spec.raw, request.query_params.get("mode") == "public") if oas else classic_form(spec)
            )
            return TykJSON(body, headers=base_of(gw, api_id))
        if request.method == "PUT":
            if oas != (spec.format == "oas"):
                return error(400, NOT_MIGRATED if oas else CLASSIC_EXPECTED)
            return await save(gw, await read_object(request), oas, api_id)
        return await delete(spec)

    async def delete(spec: APISpec) -> Response:
        if spec.managed_by:
            return file_managed("API", spec.api_id, spec.managed_by)
        path = file_for(gw, spec.api_id)
        try:
            await asyncio.to_thread(os.remove, path)
        except OSError as exc:
            log.warning("cannot delete API %r (%s): %s", spec.api_id, path, exc)
            return error(500, "Delete failed")
        log.info("API %r deleted (%s)", spec.api_id, path)
        return modified(spec.api_id, "deleted")

    methods = ["GET", "PUT", "DELETE"]
    return [
        Route("/tyk/apis", collection, methods=["GET", "POST"]),
        Route("/tyk/apis/", collection, methods=["GET", "POST"]),
        Route("/tyk/apis/oas", collection, methods=["GET", "POST"]),
        Route("/tyk/apis/oas/", collection, methods=["GET", "POST"]),
        Route("/tyk/apis/oas/{api_id:path}", one, methods=methods),
        Route("/tyk/apis/{api_id:path}", one, methods=methods),
    ]


def _with_new_id(raw: dict[str, Any], oas: bool) -> dict[str, Any]:
    fresh = uuid.uuid4().hex
    if not oas:
        return {**raw, "api_id": fresh}
    ext = dict(raw[EXT])
    info = ext.get("info")
    ext["info"] = {**info, "id": fresh} if isinstance(info, dict) else info
    return {**raw, EXT: ext}
