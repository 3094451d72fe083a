"""`/tyk/policies` and `/tyk/keys/policy/{key}`: the loaded policies, policy files written to and deleted
from `policies.policy_path`, and a key's policy list set, with Tyk's bodies, statuses and messages.

A policy body is checked with the loader's own parser and written atomically; as in Tyk, a written or
deleted policy is served after the next reload. Ids become file names, so only Tyk's safe ids pass.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin.apis import write_atomically
from gateway.admin.common import Malformed, TykJSON, error, file_managed, modified, read_object
from gateway.admin.deps import AdminGateway
from gateway.errors import ConfigError
from gateway.identity.policies import SAFE_ID, Policy
from gateway.log import get_logger, redact_key

log = get_logger("admin")

NOT_FOUND = "Policy not found"
NO_STORAGE = "Unable to access policy storage."
BAD_ID = "Invalid Policy ID: Allowed characters: a-z, A-Z, 0-9, ., _, -, ~"
ID_MISMATCH = "Request ID does not match that in policy! For Update operations these must match."
NO_ID = "Unable to create policy without id."
BAD_INSTRUCTION = "Couldn't decode instruction"


def routes(gw: AdminGateway) -> list[Route]:
    def folder() -> str:
        """Where policies are written: policy_path, when it is a folder (made on the first write)."""
        path = gw.config.policies.policy_path
        return path if path and (os.path.isdir(path) or not os.path.exists(path)) else ""

    async def save(request: Request, url_id: str | None) -> Response:
        """POST (url_id None: the body's id names the file) or PUT; nothing is written on error."""
        try:
            raw = await read_object(request)
        except Malformed:
            return error(400, "Request malformed")
        given = raw.get("id") or raw.get("_id") or ""
        if not isinstance(given, str) or (given and not SAFE_ID.fullmatch(given)):
            return error(400, BAD_ID)
        if url_id is not None and given != url_id:
            return error(400, ID_MISMATCH)
        if not given:
            return error(400, NO_ID)
        held = gw.sessions.policies.by_id.get(given)
        if held is not None and held.managed_by:
            return file_managed("policy", given, held.managed_by)
        try:
            Policy.from_json(raw, "request body")
        except ConfigError as exc:
            return error(400, exc.reason)
        root = folder()
        if not root:
            return error(500, NO_STORAGE)
        path = os.path.join(root, given + ".json")
        try:
            await asyncio.to_thread(write_atomically, path, {**raw, "id": given})
        except OSError as exc:
            log.error("cannot write %s: %s", path, exc)
            return error(500, "Failed to create file!")
        log.info("policy %r written to %s", given, path)
        return modified(given, "added" if url_id is None else "modified")

    async def collection(request: Request) -> Response:
        if request.method == "POST":
            return await save(request, None)
        return TykJSON([dict(p.raw) for p in gw.sessions.policies.scoped.values()])

    async def one(request: Request) -> Response:
        policy_id: str = request.path_params["policy_id"]
        if request.method == "GET":
            policy = gw.sessions.policies.by_id.get(policy_id)
            return TykJSON(dict(policy.raw)) if policy is not None else error(404, NOT_FOUND)
        if request.method == "PUT":
            return await save(request, policy_id)
        held = gw.sessions.policies.by_id.get(policy_id)
        if held is not None and held.managed_by:
            return file_managed("policy", policy_id, held.managed_by)
        root = folder()
        if not root or not SAFE_ID.fullmatch(policy_id):
            return error(500, "Delete failed")
        try:
            await asyncio.to_thread(os.remove, os.path.join(root, policy_id + ".json"))
        except OSError as exc:
            log.warning("cannot delete policy %r: %s", policy_id, exc)
            return error(500, "Delete failed")
        log.info("policy %r deleted", policy_id)
        return modified(policy_id, "deleted")

    async def key_policies(request: Request) -> Response:
        """POST /tyk/keys/policy/{key}: the key (as stored: its hash with hash_keys) gets these policies;
        nothing is checked or applied until a request uses it, and its quota is not reset (Tyk)."""
        key: str = request.path_params["key"]
        try:
            body = await read_object(request)
        except Malformed:
            return error(400, BAD_INSTRUCTION)
        ids: Any = body.get("apply_policies") or []
        legacy = body.get("policy") or ""
        if (
            not isinstance(ids, list)
            or not all(isinstance(i, str) for i in ids)
            or not isinstance(legacy, str)
        ):
            return error(400, BAD_INSTRUCTION)
        session = await gw.sessions.get_by_hash(key)
        if session is None:
            return error(404, "Key not found")
        fields = session.to_json()
        fields.pop("apply_policy_id", None)
        fields.update(apply_policies=[*ids, legacy] if legacy else ids, last_updated=str(int(time.time())))
        try:
            updated = session.with_updates(**fields)
        except ConfigError as exc:
            return error(400, exc.reason)
        await gw.sessions.save(key, updated, hashed=True)
        log.info("key %s given policies %s", redact_key(key), fields["apply_policies"])
        return modified(key, "updated")

    return [
        Route("/tyk/policies", collection, methods=["GET", "POST"]),
        Route("/tyk/policies/", collection, methods=["GET", "POST"]),
        Route("/tyk/policies/{policy_id}", one, methods=["GET", "PUT", "DELETE"]),
        Route("/tyk/keys/policy/{key}", key_policies, methods=["POST"]),
    ]
