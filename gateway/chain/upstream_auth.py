"""Upstream OAuth middleware (Tyk's UpstreamOAuth): puts `Authorization: Bearer <token>` (or the
configured header) on the upstream request, with a token from the API's client-credentials or password
grant, cached in-process and sealed in the store until it expires.

A failure fires UpstreamOAuthError (the error text, the API id) and answers Tyk's 500
`failed to get OAuth token: <text>`. The token request itself is oauth_token.py's business.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from gateway.apidef.model import APISpec, UpstreamOAuthSpec
from gateway.chain import oauth_token, token_cache
from gateway.chain.oauth_token import BASIC, POST, RetrieveError, Token, TokenError
from gateway.chain.token_cache import Cached, Sealer
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import Reject, StoreError
from gateway.events.catalog import Event, UpstreamOAuthMeta
from gateway.log import Throttle, get_logger

log = get_logger("chain.upstream_auth")

# A token without `expires_in` is kept this long: Tyk keeps it forever, which pins a revoked token.
NO_LIFETIME_TTL = 3600.0
# Tyk's cross-gateway fetch lock: 5 s, polled 10 times 100 ms apart; after that we fetch anyway
# (Tyk fails the request) since the lock only saves token requests.
LOCK_TTL_MS = 5000
LOCK_ATTEMPTS = 10
LOCK_RETRY = 0.1

_log_throttle = Throttle(30.0)


class UpstreamOAuth:
    name: ClassVar[str] = "upstream_oauth"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.upstream_oauth is not None
        self.oauth: UpstreamOAuthSpec = spec.upstream_oauth
        self.api_id = spec.api_id
        self.key = token_cache.store_key(self.oauth, spec.api_id)
        self.lock_key = token_cache.lock_key(self.oauth, spec.api_id)
        self._local: Cached | None = None
        # One fetch at a time in this process: concurrent misses wait and then reuse its token.
        self._lock = asyncio.Lock()
        self._method = self.oauth.method  # "" until auto-detection learns what the server accepts
        self._sealer: tuple[str, Sealer] | None = None

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.upstream_oauth is not None

    async def on_request(self, ctx: RequestContext) -> None:
        local = self._local
        if local is None or local.expires_at <= ctx.now():
            try:
                local = await self._refresh(ctx)
            except TokenError as exc:
                text = str(exc)
                if _log_throttle.allow(self.api_id):
                    log.warning("api %r: cannot get the upstream OAuth token: %s", self.api_id, text)
                ctx.fire(Event.UpstreamOAuthError, UpstreamOAuthMeta(text, api_id=self.api_id))
                raise Reject(500, f"failed to get OAuth token: {text}") from exc
        # The gateway's header replaces the client's own (Tyk's Header.Set).
        ctx.outgoing.set_header(self.oauth.header_name, "Bearer " + local.token)

    async def _refresh(self, ctx: RequestContext) -> Cached:
        async with self._lock:
            local = self._local
            if local is not None and local.expires_at > ctx.now():
                return local  # refreshed by the request this one waited for
            sealer = self._sealer_for(ctx.services.config.secret)
            cached, locked = await self._from_store(ctx, sealer)
            if cached is None:
                try:
                    cached = self._cached(ctx, await self._fetch(ctx))
                except TokenError:
                    if locked:  # let another gateway try at once rather than wait out the lock
                        await self._unlock(ctx)
                    raise
                await self._to_store(ctx, sealer, cached, locked)
            self._local = cached
            return cached

    async def _from_store(self, ctx: RequestContext, sealer: Sealer) -> tuple[Cached | None, bool]:
        """A live token another gateway (or an earlier process) stored, or None and whether this
        process now holds the fetch lock. A store outage only costs a token request."""
        store = ctx.services.store
        try:
            for attempt in range(LOCK_ATTEMPTS):
                value = await store.get(self.key)
                cached = token_cache.load(sealer, value) if value is not None else None
                if cached is not None and cached.expires_at > ctx.now():
                    return cached, False
                if await store.set_nx(self.lock_key, "1", LOCK_TTL_MS):
                    return None, True
                if attempt < LOCK_ATTEMPTS - 1:
                    await asyncio.sleep(LOCK_RETRY)
        except StoreError as exc:
            self._store_failed(exc)
        return None, False

    async def _to_store(self, ctx: RequestContext, sealer: Sealer, cached: Cached, locked: bool) -> None:
        store = ctx.services.store
        try:
            # Never a TTL <= 0: the store would keep the value forever.
            ttl = max(cached.expires_at - ctx.now(), 0.001)
            await store.set(self.key, token_cache.dump(sealer, cached), ttl)
            if locked:
                await store.delete(self.lock_key)
        except StoreError as exc:
            self._store_failed(exc)

    async def _unlock(self, ctx: RequestContext) -> None:
        try:
            await ctx.services.store.delete(self.lock_key)
        except StoreError as exc:
            self._store_failed(exc)

    async def _fetch(self, ctx: RequestContext) -> Token:
        http = ctx.services.oauth_http
        if http is None:
            raise TokenError("upstream OAuth client is not running")
        if self._method:
            return await oauth_token.fetch(http, self.oauth, self._method)
        # golang.org/x/oauth2's auto-detection: HTTP basic first, form fields if the server refuses;
        # the method that worked is remembered.
        try:
            token = await oauth_token.fetch(http, self.oauth, BASIC)
            self._method = BASIC
        except RetrieveError:
            token = await oauth_token.fetch(http, self.oauth, POST)
            self._method = POST
        return token

    def _cached(self, ctx: RequestContext, token: Token) -> Cached:
        lifetime = token.expires_in or NO_LIFETIME_TTL
        extra = {k: token.extra[k] for k in self.oauth.extra_metadata if token.extra.get(k) not in (None, "")}
        return Cached(token.access_token, ctx.now() + lifetime, extra)

    def _sealer_for(self, secret: str) -> Sealer:
        if self._sealer is None or self._sealer[0] != secret:
            self._sealer = (secret, Sealer(secret))
        return self._sealer[1]

    def _store_failed(self, exc: StoreError) -> None:
        if _log_throttle.allow("store:" + self.api_id):
            log.error("api %r: store unavailable for the upstream OAuth token cache: %s", self.api_id, exc)
