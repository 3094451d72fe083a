"""What a limiting middleware does when the store fails: the one place that decides.

`store_failure_policy` in tyk.conf: "closed" (default, Tyk's behaviour) answers 500 with Tyk's
lower-case `there was a problem proxying the request`; "open" lets the request through. Either way
the outage is logged once per interval, not once per request. Key lookups are not limits: they fail
500 either way, except that failing open the session cache serves known keys for a grace (identity/cache).
"""

from __future__ import annotations

from gateway.context import RequestContext
from gateway.errors import STORE_PROBLEM, Reject, StoreError
from gateway.log import get_logger

log = get_logger("chain")


def store_failure(ctx: RequestContext, exc: StoreError, what: str) -> None:
    """Raise Reject(500) when failing closed; return (let the request on) when failing open."""
    policy = ctx.services.config.store_failure_policy
    if ctx.services.outage_log.allow(what):
        log.error("store unavailable during %s (api %r), failing %s: %s", what, ctx.spec.api_id, policy, exc)
    if policy == "closed":
        raise Reject(500, STORE_PROBLEM) from exc
