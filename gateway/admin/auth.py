"""The admin guard: every `/tyk/...` request must carry `X-Tyk-Authorization` equal to the secret, and
no path with a control character reaches a route.

Raw ASGI middleware in front of the admin routes, so a refused request reaches no endpoint and changes
nothing. The comparison is constant-time. An empty secret refuses everyone (Tyk would let an empty
header in; an open admin API is never what an operator meant).
"""

from __future__ import annotations

import hmac
import re

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.admin.common import error
from gateway.log import get_logger, redact_key

log = get_logger("admin")

HEADER = b"x-tyk-authorization"
DENIED = "Attempted administrative access with invalid or missing key!"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def guarded(path: str) -> bool:
    return path == "/tyk" or path.startswith("/tyk/")


def shown_path(path: str) -> str:
    """The path as it may be logged: a key in it is redacted."""
    head, sep, key = path.partition("/tyk/keys/")
    return f"{head}{sep}{redact_key(key)}" if sep and key else path


class AdminGuard:
    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()

    def allowed(self, scope: Scope) -> bool:
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        if given is None or not self._secret:
            return False
        return hmac.compare_digest(given, self._secret)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and guarded(scope["path"]) and not self.allowed(scope):
            client = scope.get("client")
            log.warning(
                "refused admin call %s %s from %s: bad or missing secret",
                scope["method"],
                shown_path(scope["path"]),
                client[0] if client else "?",
            )
            await error(403, DENIED)(scope, receive, send)
            return
        if scope["type"] == "http" and _CONTROL.search(scope["path"]):
            # Starlette's route patterns end in `$`, which matches before a final newline: without this,
            # /tyk/apis/keyed%0A would act on the API "keyed". No Tyk id or path holds a control character.
            await error(404, "Not Found")(scope, receive, send)
            return
        await self.app(scope, receive, send)
