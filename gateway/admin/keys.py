"""`/tyk/keys`: create, update, read, list and delete keys, with Tyk's bodies, statuses and token events.

Follows Tyk's `handleAddOrUpdate`, `createKeyHandler`, `handleGetDetail` and `handleDeleteKey`: keys are
named by Tyk's token rules, hashed in storage when `hash_keys` is on, and every change fires its
TokenCreated/TokenUpdated/TokenDeleted event. A raw key is never logged and never stored hashed-off.
"""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.admin import passwords
from gateway.admin.common import Malformed, TykJSON, error, flag, modified, read_object, rfc3339
from gateway.admin.deps import AdminGateway
from gateway.errors import ConfigError
from gateway.events.catalog import Event, TokenMeta
from gateway.identity.limits import INT64_MAX, check_smoothing
from gateway.identity.session import Session
from gateway.log import get_logger, redact_key

log = get_logger("admin")

SECURITY_SETTINGS = "Failed to create key, ensure security settings are correct."
NEEDS_ACCESS_RIGHTS = "Failed to create key, keys must have at least one Access Rights record set."
LISTING_DISABLED = "Hashed key listing is disabled in config (enable_hashed_keys_listing)"


def _session(body: dict[str, Any]) -> Session:
    try:
        session = Session.from_json(body, "request body")
        check_smoothing(body, "request body")
        return session
    except ConfigError as exc:
        # Tyk answers a wrongly typed field with its generic 400; ours names the field too.
        log.warning("refused a key body: %s", exc.reason)
        raise Malformed(exc.reason, field=exc.reason) from None


def _renewed(session: Session, now: float) -> dict[str, Any]:
    """Fields Tyk resets on a write without suppress_reset: rate window and quota period start now."""
    return {"last_updated": str(int(now)), "quota_renews": renews_at(now, session)}


def renews_at(now: float, session: Session) -> int:
    """When a quota period starting now ends; at the last int64 second for a rate that would pass it
    (Go's sum would wrap round to the past)."""
    return min(int(now) + session.quota_renewal_rate, INT64_MAX)


def _keep_counters(new: dict[str, Any], old: Session) -> None:
    """suppress_reset: keep the old period's quota_renews and last_updated, also per-API limit renewals."""
    new["quota_renews"] = old.raw.get("quota_renews", 0)
    new["last_updated"] = old.raw.get("last_updated", "")
    rights = new.get("access_rights")
    for api_id, right in old.access_rights.items():
        entry = rights.get(api_id) if isinstance(rights, dict) else None
        limit = entry.get("limit") if isinstance(entry, dict) else None
        if right.limit is not None and isinstance(limit, dict) and any(limit.values()):
            limit["quota_renews"] = right.limit.quota_renews


def routes(gw: AdminGateway) -> list[Route]:
    def org_problem(unapplied: Session, applied: Session) -> str:
        """Tyk applies a new key's policies once per loaded API they grant, as that API's request would:
        a policy of another org than the API fails the whole write. APIs not loaded are not checked."""
        if not unapplied.names_policies:
            return ""
        orgs = {s.api_id: s.org_id for s in gw.specs()}
        for api_id in applied.access_rights:
            if api_id in orgs:
                checked = gw.sessions.apply_policies(unapplied, api_org=orgs[api_id])
                if checked.policy_error:
                    return checked.policy_error
        return ""

    async def write(
        key: str, session: Session, *, hashed: bool, reset: bool, old: Session | None = None
    ) -> Response | None:
        """Tyk's doAddOrUpdate: hash a basic-auth password, apply the key's policies (saved applied, as
        Tyk saves it), refuse master keys unless allowed, reset the quota, save."""
        algorithm = gw.config.basic_auth_hash_key_function
        session = Session.from_json(await passwords.hash_password(session.to_json(), algorithm, old), "body")
        session = gw.sessions.apply_policies(unapplied := session)
        problem = session.policy_error or org_problem(unapplied, session)
        if problem:
            log.error("key %s not saved: %s", redact_key(key), problem)
            return error(500, SECURITY_SETTINGS)
        if not session.access_rights and not gw.config.allow_master_keys:
            log.error("master keys disallowed in configuration, key %s not added", redact_key(key))
            return error(500, SECURITY_SETTINGS)
        if reset:
            await gw.sessions.reset_quota(key, session, hashed=hashed)
        await gw.sessions.save(key, session, hashed=hashed)
        return None

    async def add(request: Request) -> Response:
        """POST /tyk/keys and /tyk/keys/{key}: a generated or chosen key."""
        session = _session(await read_object(request))
        custom = request.path_params.get("key", "")
        minimum = gw.sessions.min_token_length
        if custom and len(custom) < minimum:
            return error(400, f"Custom key is too short: it must be at least {minimum} characters")
        org = session.org_id
        key = gw.sessions.custom_key(org, custom) if custom else gw.sessions.generate_key(org)
        now = time.time()
        reset = not flag(request, "suppress_reset")
        fields: dict[str, Any] = {"date_created": rfc3339(now)}
        session = session.with_updates(**fields, **(_renewed(session, now) if reset else {}))
        if not custom or await gw.sessions.find(key) is None:  # Tyk: only a key that is new
            session = gw.sessions.with_trial(session, now)
        refused = await write(key, session, hashed=False, reset=reset)
        if refused is not None:
            return refused
        log.info("key %s added", redact_key(key))
        gw.fire_system(Event.TokenCreated, TokenMeta("Key modified.", org=org, key=key))
        key_hash = gw.sessions.key_hash(key) if gw.config.hash_keys else ""
        return modified(key, "added", key_hash=key_hash)

    async def create(request: Request) -> Response:
        """POST /tyk/keys/create: always a generated key (Tyk's createKeyHandler and its own messages)."""
        try:
            session = _session(await read_object(request))
        except Malformed:
            return error(500, "Unmarshalling failed")
        org = session.org_id
        key = gw.sessions.generate_key(org)
        now = time.time()
        fields: dict[str, Any] = {"date_created": rfc3339(now), **_renewed(session, now)}
        if session.raw.get("hmac_enabled") is True:
            fields["hmac_string"] = base64.b64encode(uuid.uuid4().hex.encode()).decode()
        session = gw.sessions.with_trial(session.with_updates(**fields), now)
        session = gw.sessions.apply_policies(unapplied := session)
        problem = session.policy_error or org_problem(unapplied, session)
        if problem:
            return error(500, f"Failed to create key - {problem}")
        if not session.access_rights and not gw.config.allow_master_keys:
            return error(400, NEEDS_ACCESS_RIGHTS)
        await gw.sessions.reset_quota(key, session)
        await gw.sessions.save(key, session)
        log.info("key %s generated", redact_key(key))
        gw.fire_system(Event.TokenCreated, TokenMeta("Key generated.", org=org, key=key))
        key_hash = gw.sessions.key_hash(key) if gw.config.hash_keys else ""
        return modified(key, "added", key_hash=key_hash)

    async def preview(request: Request) -> Response:
        """POST /tyk/keys/preview: the session as it would be saved, its policies applied (an error in
        them ignored, as Tyk does); nothing is written and no event fires."""
        session = _session(await read_object(request))
        applied = gw.sessions.apply_policies(session)
        return TykJSON((session if applied.policy_error else applied).to_json())

    async def update(request: Request) -> Response:
        """PUT /tyk/keys/{key} (`?hashed=1`: addressed by its stored hash)."""
        body = await read_object(request)
        session = _session(body)
        key, hashed = request.path_params["key"], flag(request, "hashed")
        if hashed:
            old = await gw.sessions.get_by_hash(key)
        else:
            found = await gw.sessions.find(key, session.org_id)
            key, old = found if found is not None else (key, None)
        if old is None:
            return error(404, "Key is not found")
        fields = dict(body)
        fields.pop("date_created", None)
        if "date_created" in old.raw:
            fields["date_created"] = old.raw["date_created"]
        reset = not flag(request, "suppress_reset")
        now = time.time()
        if reset:
            fields.update(_renewed(session, now))
        else:
            _keep_counters(fields, old)
        session = Session.from_json(fields, "request body")
        refused = await write(key, session, hashed=hashed, reset=reset, old=old)
        if refused is not None:
            return refused
        log.info("key %s modified", redact_key(key))
        gw.fire_system(Event.TokenUpdated, TokenMeta("Key modified.", org=session.org_id, key=key))
        return modified(key, "modified")

    async def detail(request: Request) -> Response:
        """GET /tyk/keys/{key}: the session as written, quota_remaining from the live counter."""
        key, hashed = request.path_params["key"], flag(request, "hashed")
        if hashed and not gw.config.hash_keys:
            return error(400, "Key requested by hash but key hashing is not enabled")
        if hashed:
            session = await gw.sessions.get_by_hash(key)
        else:
            found = await gw.sessions.find(key, _org(gw, request))
            key, session = found if found is not None else (key, None)
        if session is None:
            return error(404, "Key not found")
        body = passwords.hidden(session.to_json())
        if session.quota_max != -1:
            used = await gw.sessions.used_quota(key, hashed=hashed)
            if used is not None:
                body["quota_remaining"] = max(0, session.quota_max - used)
        return TykJSON(body)

    async def listing(request: Request) -> Response:
        """GET /tyk/keys: stored key ids (hashes when hashing); `?filter=` is a key prefix (unhashed)."""
        if gw.config.hash_keys:
            if not gw.config.enable_hashed_keys_listing:
                return error(404, LISTING_DISABLED)
            return TykJSON({"keys": await gw.sessions.list_keys()})
        prefix = request.query_params.get("filter", "")
        keys = await gw.sessions.list_keys(prefix)
        if prefix:
            # Tyk also matches base64 JSON keys of that org: `{"org":"<filter>"` encoded, last 2 chars cut.
            encoded = base64.b64encode(f'{{"org":"{prefix}"'.encode()).decode().rstrip("=")[:-2]
            keys += [k for k in await gw.sessions.list_keys(encoded) if k not in keys]
        return TykJSON({"keys": keys})

    async def remove(request: Request) -> Response:
        """DELETE /tyk/keys/{key}: the session and its quota counter; no event for `?hashed=1`."""
        key, hashed = request.path_params["key"], flag(request, "hashed")
        if hashed:
            session = await gw.sessions.get_by_hash(key)
        else:
            found = await gw.sessions.find(key, request.query_params.get("org_id", ""))
            key, session = found if found is not None else (key, None)
        if session is None:
            return error(404, "There is no such key found")
        await gw.sessions.reset_quota(key, session, hashed=hashed)
        if not await gw.sessions.delete(key, hashed=hashed):
            return error(400, "Failed to remove the key")
        log.info("key %s deleted", redact_key(key))
        if request.query_params.get("api_id") == "-1":
            return TykJSON(None)  # Tyk's "delete across all APIs" answers a bare null, with no event
        if not hashed:
            gw.fire_system(Event.TokenDeleted, TokenMeta("Key deleted.", org=session.org_id, key=key))
        return modified(key, "deleted")

    async def dispatch(request: Request) -> Response:
        # An empty key (`/tyk/keys`, `/tyk/keys/`) is the collection for GET, as in Tyk's router.
        if request.method == "GET":
            return await (detail(request) if request.path_params.get("key") else listing(request))
        return await {"POST": add, "PUT": update, "DELETE": remove}[request.method](request)

    return [
        Route("/tyk/keys/create", create, methods=["POST"]),
        Route("/tyk/keys/preview", preview, methods=["POST"]),
        Route("/tyk/keys", dispatch, methods=["GET", "POST"]),
        # Keys may hold `/` (base64), so the rest of the path is the key.
        Route("/tyk/keys/{key:path}", dispatch, methods=["GET", "POST", "PUT", "DELETE"]),
    ]


def _org(gw: AdminGateway, request: Request) -> str:
    """Tyk's lookup org for GET: the org of `?api_id=` when that API is loaded, else `?org_id=`."""
    api_id = request.query_params.get("api_id", "")
    spec = next((s for s in gw.specs() if s.api_id == api_id), None) if api_id else None
    return spec.org_id if spec is not None else request.query_params.get("org_id", "")
