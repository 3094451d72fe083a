"""Organisation limits (Tyk's OrganizationMonitor): with `enforce_org_quotas`, the org session stored
under `orgkey.<org>` can disable, rate-limit and quota every API of that org, keyless ones included.

Runs before auth, so its events carry the org id as key. Disabled: 403, no event. Rate: the shared
Limiter on `rate-limit-org-<org>`. Quota: the key quota's counter step on `quota-<org>`. The org session
is read per request but parsed only when its stored text changes. Store outages follow `chain.policy`.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.apidef.model import APISpec
from gateway.chain.policy import store_failure
from gateway.chain.quota import count
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import (
    ORG_DISABLED,
    ORG_QUOTA_EXCEEDED,
    ORG_RATE_LIMIT_EXCEEDED,
    Reject,
    StoreError,
)
from gateway.events.catalog import Event, OrgQuotaExceededMeta, OrgRateLimitExceededMeta
from gateway.identity.session import Session, parse_stored
from gateway.identity.sessions import QUOTA_PREFIX

ORG_QUOTA_MESSAGE = "Organisation quota has been exceeded"
ORG_RATE_MESSAGE = "Organisation rate limit has been exceeded"


class OrgLimits:
    name: ClassVar[str] = "org_limits"

    def __init__(self, spec: APISpec, config: Config) -> None:
        self.org_id = spec.org_id
        self.limiter_key = f"rate-limit-org-{spec.org_id}"
        self.quota_key = QUOTA_PREFIX + spec.org_id
        # (stored text, its parse): a session is parsed again only when an admin write changed it.
        self._cached: tuple[str, Session | None] = ("", None)

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        # Off (the default) costs nothing per request: the middleware is not in the chain at all.
        return bool(spec.org_id) and config.enforce_org_quotas

    async def on_request(self, ctx: RequestContext) -> None:
        services = ctx.services
        try:
            org = await self._session(ctx)
        except StoreError as exc:
            store_failure(ctx, exc, "organisation limits")
            return
        if org is None:
            return
        if org.is_inactive:
            raise Reject(403, ORG_DISABLED)
        try:
            allowed = (
                org.rate <= 0
                or org.per <= 0
                or await services.limiter.hit(self.limiter_key, org.rate, org.per)
            )
            if not allowed:
                self._fire(ctx, Event.OrgRateLimitExceeded, OrgRateLimitExceededMeta, ORG_RATE_MESSAGE)
                raise Reject(403, ORG_RATE_LIMIT_EXCEEDED)
            if org.quota_max > 0:
                remaining, renews = await count(
                    services, self.quota_key, org.quota_max, org.quota_renewal_rate
                )
                if remaining < 0:
                    self._fire(ctx, Event.OrgQuotaExceeded, OrgQuotaExceededMeta, ORG_QUOTA_MESSAGE)
                    raise Reject(403, ORG_QUOTA_EXCEEDED)
                monitor = services.trigger_monitor
                if monitor is not None and monitor.orgs:
                    await monitor.observe(
                        ctx.fire,
                        services.clock(),
                        counter=self.quota_key,
                        used=org.quota_max - remaining,
                        quota_max=org.quota_max,
                        renews=renews,
                        limits=org.trigger_limits,
                        org_id=self.org_id,
                        key="",  # Tyk: org checks carry no key
                    )
        except StoreError as exc:
            store_failure(ctx, exc, "organisation limits")

    async def _session(self, ctx: RequestContext) -> Session | None:
        raw = await ctx.services.sessions.org_raw(self.org_id, last_known=True)
        if raw is None:
            return None
        text, parsed = self._cached
        if raw != text:
            parsed = parse_stored(raw, f"org {self.org_id}")
            self._cached = (raw, parsed)
        return parsed

    def _fire(
        self,
        ctx: RequestContext,
        event: Event,
        meta: type[OrgQuotaExceededMeta] | type[OrgRateLimitExceededMeta],
        message: str,
    ) -> None:
        ctx.fire(event, meta(message, path=ctx.path, origin=ctx.origin, key=self.org_id))
