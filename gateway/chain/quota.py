"""Key quota middleware (the quota half of Tyk's RateLimitAndQuotaCheck): `quota_max` requests per
`quota_renewal_rate` seconds, from the per-API `access_rights[..].limit` when present, else the session.

One atomic store step per request (`Store.incr_window`) on `quota-[<scope>-]<key or hash>`, the counter
the REST API resets and reads; when a rate limit applies too, KeyRateLimit takes that step in its own
round trip. Blocked requests count too (Tyk). A refusal fires QuotaExceeded and is 403 `Quota exceeded`;
an allowed request is shown to the trigger monitor when it is on. Store outages follow `chain.policy`.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.chain.keyed import KeyStep
from gateway.chain.policy import store_failure
from gateway.context import RequestContext, Services
from gateway.errors import QUOTA_EXCEEDED, Reject, StoreError
from gateway.events.catalog import Event, QuotaExceededMeta
from gateway.identity.session import Session

QUOTA_EVENT_MESSAGE = "Key Quota Limit Exceeded"


async def count(
    services: Services,
    key: str,
    quota_max: int,
    renewal_rate: float,
    counted: tuple[int, float] | None = None,
) -> tuple[int, float]:
    """Count one request against a quota counter: (remaining, renews as Unix seconds or 0).

    `counted` is the (count, reset) of a step already taken. The caller blocks when remaining < 0:
    exactly `quota_max` requests pass in a period. `renews` keeps its fraction: the trigger monitor's
    reservations end with the period, not at the whole second before (which re-fired each threshold).
    """
    used, reset = counted or await services.store.incr_window(key, renewal_rate)
    return quota_max - used, services.clock() + reset if reset > 0 else 0.0


def quota_counter(ctx: RequestContext, session: Session, api_id: str) -> str:
    """The key's quota counter for this API: `quota-[<scope>-]<key or its hash>`."""
    return ctx.services.sessions.quota_key(ctx.key, session.quota_scope(api_id))


class KeyQuota(KeyStep):
    name: ClassVar[str] = "quota"

    async def on_request(self, ctx: RequestContext) -> None:
        session = ctx.session
        if session is None:
            return
        limit = session.limit(self.api_id)
        if limit.quota_max <= 0:  # Tyk: 0 and -1 alike mean unlimited
            return
        services = ctx.services
        key = quota_counter(ctx, session, self.api_id)
        try:
            remaining, renews = await count(
                services, key, limit.quota_max, limit.quota_renewal_rate, ctx.quota_counted
            )
        except StoreError as exc:
            store_failure(ctx, exc, "quota counting")
            return
        # For the `quotas` response headers; the stored session is not rewritten (GET /tyk/keys
        # recomputes quota_remaining from the counter).
        ctx.outgoing.quota_live = (max(0, remaining), int(renews) or limit.quota_renews)
        if remaining < 0:
            meta = QuotaExceededMeta(QUOTA_EVENT_MESSAGE, path=ctx.path, origin=ctx.origin, key=ctx.key)
            ctx.fire(Event.QuotaExceeded, meta)
            raise Reject(403, QUOTA_EXCEEDED)
        monitor = services.trigger_monitor
        if monitor is not None and monitor.users:
            await monitor.observe(
                ctx.fire,
                services.clock(),
                counter=key,
                used=limit.quota_max - remaining,
                quota_max=limit.quota_max,
                renews=renews,
                limits=session.trigger_limits,
                org_id=session.org_id,
                key=ctx.key,
            )
