"""Rate limiting middleware: the key-level limit (session or access-rights `rate`/`per`) and the
API-level limit (Classic `global_rate_limit`, OAS `upstream.rateLimit`), both on the shared Limiter.

A blocked request fires RatelimitExceeded and gets Tyk's 429 (`Rate Limit Exceeded` for a key,
`API Rate Limit Exceeded` for the API). With `rate_limit_response_headers: rate_limits` the window's
figures go out as X-RateLimit-* headers, 429s included; the default (`quotas`) is the app's business.
With `enable_rate_limit_smoothing` a key's valid `smoothing` block lowers the limit (chain.smoothing).
"""

from __future__ import annotations

from typing import ClassVar

from gateway.apidef.model import APISpec
from gateway.chain.keyed import KeyStep
from gateway.chain.policy import store_failure
from gateway.chain.quota import quota_counter
from gateway.chain.smoothing import allowance
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import API_RATE_LIMIT_EXCEEDED, RATE_LIMIT_EXCEEDED, Reject, StoreError
from gateway.events.catalog import Event, RatelimitExceededMeta
from gateway.identity.limits import Limit, Smoothing
from gateway.identity.session import Session


async def _limit(
    ctx: RequestContext, ident: str, rate: float, per: float, smoothing: Smoothing | None = None
) -> bool:
    """One limiter hit; False when blocked. Adds the rate_limits headers when configured."""
    limiter = ctx.services.limiter
    try:
        # Smoothing first: its events fire even when this request is then blocked (Tyk).
        limit = await allowance(ctx, ident, rate, per, smoothing) if smoothing is not None else None
        allowed = await limiter.hit(ident, rate, per, limit)
        # Tyk adds the API-level figures only when the key-level ones are absent.
        if ctx.services.config.rate_limit_response_headers == "rate_limits" and not ctx.outgoing.reply:
            remaining, reset = await limiter.stats(ident, rate, per)
            ctx.outgoing.reply += (
                (b"x-ratelimit-limit", str(int(rate)).encode()),
                (b"x-ratelimit-remaining", str(remaining).encode()),
                (b"x-ratelimit-reset", str(reset).encode()),
            )
    except StoreError as exc:
        store_failure(ctx, exc, "rate limiting")
        return True
    return allowed


class KeyRateLimit(KeyStep):
    name: ClassVar[str] = "key_rate_limit"

    async def on_request(self, ctx: RequestContext) -> None:
        session = ctx.session
        if session is None:
            return
        limit = session.limit(self.api_id)
        rate, per = limit.rate, limit.per
        if rate <= 0 or per <= 0:
            return
        services = ctx.services
        smoothing = limit.smoothing if services.config.enable_rate_limit_smoothing else None
        # The limiter key never holds a raw key when hash_keys is on (it may live in a shared Redis).
        hashed = services.config.hash_keys
        # Tyk's LimiterKey: APIs that count apart (per-API limits, several policies) have a scope each.
        scope = session.quota_scope(self.api_id)
        ident = "rate-limit-" + (scope + "-" if scope else "")
        ident += services.sessions.key_hash(ctx.key) if hashed else ctx.key
        plain = smoothing is None and services.config.rate_limit_response_headers != "rate_limits"
        if plain and limit.quota_max > 0:
            allowed = await self._with_quota(ctx, session, ident, limit)
        else:
            allowed = await _limit(ctx, ident, rate, per, smoothing)
        if not allowed:
            meta = RatelimitExceededMeta(RATE_LIMIT_EXCEEDED, path=ctx.path, origin=ctx.origin, key=ctx.key)
            ctx.fire(Event.RatelimitExceeded, meta)
            raise Reject(429, RATE_LIMIT_EXCEEDED, ctx.outgoing.reply)

    async def _with_quota(self, ctx: RequestContext, session: Session, ident: str, limit: Limit) -> bool:
        """The window hit and, when admitted, KeyQuota's count in one store step (one Redis round trip)."""
        window, amount, expiry = ctx.services.limiter.window(ident, limit.rate, limit.per)
        counter = quota_counter(ctx, session, self.api_id)
        try:
            allowed, used, reset = await ctx.services.store.hit_and_count(
                window, amount, expiry, counter, limit.quota_renewal_rate
            )
        except StoreError as exc:
            store_failure(ctx, exc, "rate limiting")
            return True  # KeyQuota then counts on its own, under the same policy
        if allowed:
            ctx.quota_counted = (used, reset)
        return allowed


class APIRateLimit:
    name: ClassVar[str] = "api_rate_limit"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.rate_limit is not None
        self.rate = spec.rate_limit.rate
        self.per = spec.rate_limit.per
        # Tyk's limiter identity: org and API id concatenated, no separator.
        self.key = f"apilimiter-{spec.org_id}{spec.api_id}"
        self.ident = "rate-limit-" + self.key

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.rate_limit is not None

    async def on_request(self, ctx: RequestContext) -> None:
        if not await _limit(ctx, self.ident, self.rate, self.per):
            meta = RatelimitExceededMeta(
                API_RATE_LIMIT_EXCEEDED, path=ctx.path, origin=ctx.origin, key=self.key
            )
            ctx.fire(Event.RatelimitExceeded, meta)
            raise Reject(429, API_RATE_LIMIT_EXCEEDED, ctx.outgoing.reply)
