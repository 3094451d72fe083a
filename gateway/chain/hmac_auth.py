"""HMAC request signing middleware (Tyk's HTTPSignatureValidationMiddleware): the keyId's `hmac_string` must
have signed the request, checked in Tyk's order; every refusal is Tyk's one 400 with AuthFailure (`rsa-*`
too: not implemented), the reason only logged, the credential redacted. It must not check expiry, access
rights or limits: the key steps after it do, on the key's session.
"""

from __future__ import annotations

from typing import ClassVar, NoReturn
from urllib.parse import unquote_to_bytes

from gateway.apidef.model import APISpec, HMACSpec
from gateway.chain import http_date, signature
from gateway.chain.auth import find_key, header_key, read_credential, strip_credential
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import Reject
from gateway.events.catalog import AuthFailureMeta, Event
from gateway.log import Throttle, get_logger, redact_key

log = get_logger("chain.hmac")
# A client with a wrong clock or secret retries at once: say why once per API and reason per 30 s.
_refusals = Throttle(30.0)

INVALID = "Authorization field missing, malformed or invalid"
RSA_UNSUPPORTED = "RSA request signing (rsa-sha256) is not supported by this gateway"


class HMACAuth:
    name: ClassVar[str] = "hmac_auth"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.hmac is not None
        self.hmac: HMACSpec = spec.hmac
        self.api_id = spec.api_id
        self.org_id = spec.org_id
        self.header = header_key(self.hmac.source)
        self.allowed = frozenset(self.hmac.allowed_algorithms)
        self.sets_identity = spec.identity in ("", "hmac_key")  # base_identity_provided_by

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.hmac is not None

    async def on_request(self, ctx: RequestContext) -> None:
        sent = read_credential(ctx, self.hmac.source, self.header)
        if not sent:
            self._refuse(ctx, sent, "no credential")
        try:
            fields = signature.parse(sent)
        except signature.Malformed as exc:
            self._refuse(ctx, sent, "the credential is malformed", str(exc))
        # Go's URL.Path: the path as received (listen path included), percent-decoded, no query.
        path = unquote_to_bytes(ctx.scope.get("raw_path") or ctx.scope["path"].encode())
        message = signature.signing_string(ctx.scope["method"], path, fields.headers, ctx.header)
        if self.allowed and fields.algorithm not in self.allowed:
            self._refuse(ctx, sent, "the algorithm is not allowed", repr(fields.algorithm))
        if fields.algorithm.startswith("rsa"):  # Tyk's test for its RSA path: a case-sensitive prefix
            self._refuse(ctx, sent, RSA_UNSUPPORTED)
        found = await find_key(ctx, fields.key_id, self.org_id)
        if found is None:
            self._refuse(ctx, sent, "the key ID does not exist")
        raw = found[1].raw
        secret = raw.get("hmac_string") or ""
        if not secret or not (raw.get("hmac_enabled") or raw.get("enable_http_signature_validation")):
            self._refuse(ctx, sent, "the key has no hmac_string, or HMAC is not enabled for it")
        expected = signature.encoded_signature(message, str(secret).encode(), fields.algorithm)
        if not signature.matches(expected, fields.signature):
            self._refuse(ctx, sent, "the signature does not match")
        _, date = signature.date_header(ctx.header)
        now_ns = int(ctx.now() * 1_000_000_000)
        if not http_date.within_skew(date.decode("latin-1"), now_ns, self.hmac.clock_skew_ms):
            self._refuse(ctx, sent, "the Date (or x-aux-date) is unparsable or outside the clock skew")
        if self.sets_identity:
            ctx.key, ctx.session = found
        if self.hmac.source.strip_auth_data:
            strip_credential(ctx, self.hmac.source, self.header)

    def _refuse(self, ctx: RequestContext, sent: str, why: str, detail: str = "") -> NoReturn:
        """Tyk's authorizationError: AuthFailure with the credential as read, and the one 400. The log
        line is throttled by reason (never by what the client sent, which has no bound)."""
        if _refusals.allow(f"{self.api_id}\n{why}"):
            shown = f"{why}: {detail}" if detail else why
            log.info("API %r: signed request %s refused: %s", self.api_id, redact_key(sent), shown)
        meta = AuthFailureMeta("Auth Failure", path=ctx.path, origin=ctx.origin, key=sent)
        ctx.fire(Event.AuthFailure, meta)
        raise Reject(400, INVALID)
