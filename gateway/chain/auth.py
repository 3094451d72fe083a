"""Auth token middleware: finds the credential (header, query param, cookie) and loads its session.

Tyk's rules: no credential is 401 `Authorization field missing` with no event; an unknown (or too short)
key fires AuthFailure with the key as sent and is 403. It must not check expiry or access rights:
those are the next middlewares' jobs.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import ClassVar
from urllib.parse import parse_qsl, quote

from gateway.apidef.model import APISpec, AuthTokenSpec
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import ACCESS_DISALLOWED, AUTH_FIELD_MISSING, STORE_PROBLEM, Reject, StoreError
from gateway.events.catalog import AuthFailureMeta, Event
from gateway.identity.session import Session
from gateway.log import Throttle, get_logger, redact_key

log = get_logger("chain.auth")
# A refused key asks again and again: say why once per key per 30 s.
_refusals = Throttle(30.0)


class AuthToken:
    name: ClassVar[str] = "auth"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.auth is not None
        self.auth: AuthTokenSpec = spec.auth
        self.org_id = spec.org_id
        self.header = header_key(spec.auth)
        self.sets_identity = spec.identity in ("", "auth_token")  # base_identity_provided_by

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.auth is not None

    def credential(self, ctx: RequestContext) -> str:
        token = read_credential(ctx, self.auth, self.header)
        if token[:7].lower() == "bearer ":
            token = token[7:]
        return token.strip()

    async def on_request(self, ctx: RequestContext) -> None:
        token = self.credential(ctx)
        if not token:
            raise Reject(401, AUTH_FIELD_MISSING)
        found = await find_key(ctx, token, self.org_id)
        if found is None:
            ctx.fire(
                Event.AuthFailure,
                AuthFailureMeta("Auth Failure", path=ctx.path, origin=ctx.origin, key=token),
            )
            raise Reject(403, ACCESS_DISALLOWED)
        # The key id is the stored name however the client spelled it, so limits and event metas see
        # one key (a custom key sent as "mine" and as "<org>mine" is one client).
        if self.sets_identity:
            ctx.key, ctx.session = found
        if self.auth.strip_auth_data:
            strip_credential(ctx, self.auth, self.header)


def header_key(source: AuthTokenSpec) -> bytes:
    """The credential header's name as ASGI spells it (lower-case bytes), worked out once at load."""
    return source.header_name.lower().encode("latin-1")


def read_credential(ctx: RequestContext, source: AuthTokenSpec, header: bytes) -> str:
    """Header first, then a non-empty query param overrides it, then a non-empty cookie (Tyk's order)."""
    token = ""
    if source.use_header:
        token = (ctx.header(header) or b"").decode("latin-1")
    if source.use_param and ctx.scope.get("query_string"):
        for name, value in parse_qsl(ctx.scope["query_string"].decode("latin-1")):
            if name == source.param_name and value:
                token = value
                break
    if source.use_cookie:
        raw = ctx.header(b"cookie")
        if raw:
            try:
                morsel = SimpleCookie(raw.decode("latin-1")).get(source.cookie_name)
            except CookieError:
                morsel = None
            if morsel is not None and morsel.value:
                token = morsel.value
    return token


async def find_key(ctx: RequestContext, name: str, org_id: str) -> tuple[str, Session] | None:
    """The key and its session with its policies applied, or None when there is none to serve: unknown,
    too short, or its policies cannot be applied (a policy gone, another org's, none granting access:
    Tyk treats such a key as not found). A store failure is Tyk's 500 under either policy, except that
    failing open a key the session cache knows is served as last read for `store_outage_grace` seconds."""
    try:
        # With the org, a custom key created as "mine" is found as Tyk stores it ("<org>mine").
        found = await ctx.services.sessions.find(name, org_id=org_id, for_api=True, last_known=True)
    except StoreError as exc:
        raise Reject(500, STORE_PROBLEM) from exc
    if found is not None and found[1].policy_error:
        if _refusals.allow(redact_key(found[0])):
            log.warning("key %s refused: %s", redact_key(found[0]), found[1].policy_error)
        return None
    return found


def strip_credential(ctx: RequestContext, source: AuthTokenSpec, header: bytes) -> None:
    """Tyk's StripAuth: the credential leaves by no route, header, query parameter or cookie."""
    out = ctx.outgoing
    if source.use_header:
        out.drop_header(header)
    # Start from the query as already rewritten (VersionCheck may have stripped the version from it).
    query = out.query_string(ctx.scope)
    if source.use_param and query:
        name = quote(source.param_name).encode()
        kept = [part for part in query.split(b"&") if part.split(b"=", 1)[0] not in (name, b"")]
        out.query = b"&".join(kept)
    cookie = ctx.header(b"cookie")
    if source.use_cookie and cookie:
        prefix = source.cookie_name.encode() + b"="
        kept = [part for part in cookie.split(b";") if not part.strip().startswith(prefix)]
        out.remove_header("cookie")
        if any(part.strip() for part in kept):
            out.add += (("cookie", b";".join(kept).strip().decode("latin-1")),)
