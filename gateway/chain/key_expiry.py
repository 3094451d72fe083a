"""Key expiry middleware: an inactive or expired key fires KeyExpired and is refused.

Inactive is checked first (403 `Key is inactive, please renew`), then `expires` (Unix seconds; <= 0
never expires; 401 `Key has expired, please renew`). Runs only after auth has loaded a session.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.chain.keyed import KeyStep
from gateway.context import RequestContext
from gateway.errors import KEY_EXPIRED, KEY_INACTIVE, Reject
from gateway.events.catalog import Event, KeyExpiredMeta

# Tyk's answer when the identity method set no session (mw_key_expired_check.go).
SESSION_MISSING = "Session state is missing or unset! Please make sure that auth headers are properly applied"


class KeyExpiry(KeyStep):
    name: ClassVar[str] = "key_expiry"

    async def on_request(self, ctx: RequestContext) -> None:
        session = ctx.session
        if session is None:
            # base_identity_provided_by names a method this API does not run: no session to act on.
            raise Reject(400, SESSION_MISSING)
        if session.is_inactive:
            self._fire(ctx, "Attempted access from inactive key.")
            raise Reject(403, KEY_INACTIVE)
        if session.expires >= 1 and ctx.now() > session.expires:
            self._fire(ctx, "Attempted access from expired key.")
            raise Reject(401, KEY_EXPIRED)

    @staticmethod
    def _fire(ctx: RequestContext, message: str) -> None:
        ctx.fire(Event.KeyExpired, KeyExpiredMeta(message, path=ctx.path, origin=ctx.origin, key=ctx.key))
