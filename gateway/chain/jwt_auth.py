"""JWT auth middleware: Tyk's JWTMiddleware with a maintained JOSE library (PyJWT) for every signature.

A token is checked in Tyk's order: present, well formed, an algorithm the API's signing method allows
(`none` never), the signature (the API's jwt_source, or the secret of the key its `kid` names), then
`exp`, `iat` and `nbf` with their skews (401, no event). With a jwt_source the user's session is
Tyk's generated key, `<org><md5 of the identity claim>`, with the token's policy (or the defaults): an
ordinary key in the store, so rate limits and quotas are shared across gateways.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, ClassVar, NoReturn

import jwt as pyjwt
from jwt.types import Options
from jwt.warnings import InsecureKeyLengthWarning

from gateway.apidef.model import APISpec, JWTSpec
from gateway.chain import jwt_session
from gateway.chain.auth import find_key, header_key, read_credential, strip_credential
from gateway.chain.jwks import JWKS
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import AUTH_FIELD_MISSING, Reject
from gateway.events.catalog import AuthFailureMeta, Event
from gateway.log import Throttle, get_logger

log = get_logger("chain.jwt")
_bad_keys = Throttle(30.0)

NOT_AUTHORIZED = "Key not authorized"
NBF = "token is not valid yet"  # Tyk's JWT messages say "authorized"
ALGORITHMS = {
    "hmac": ("HS256", "HS384", "HS512"),
    "rsa": ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
    "ecdsa": ("ES256", "ES384", "ES512"),
}


class JWTAuth:
    name: ClassVar[str] = "jwt_auth"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.jwt is not None
        self.jwt: JWTSpec = spec.jwt
        self.org_id = spec.org_id
        self.header = header_key(self.jwt.source)
        self.allowed = ALGORITHMS[self.jwt.signing_method]
        self.sets_identity = spec.identity in ("", "jwt_claim")  # base_identity_provided_by
        self.hash_function = config.hash_key_function
        # The API's own key, made once; a jwt_source that is not a key refuses every token (as in Tyk).
        self.key: Any = None
        self.key_error = ""
        self.jwks = JWKS(spec.api_id, self.jwt.jwks) if self.jwt.jwks else None
        if self.jwt.secret:
            raw = self.jwt.secret_bytes
            if raw is None:
                self.key_error = f"jwt_source {self.jwt.secret!r} is not base64"
            else:
                self.key, self.key_error = jwt_session.load_key(raw, self.jwt.signing_method)
            if self.key_error:
                log.warning("API %r: %s: every JWT will be refused", spec.api_id, self.key_error)

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.jwt is not None

    async def on_request(self, ctx: RequestContext) -> None:
        token = read_credential(ctx, self.jwt.source, self.header)
        if token[:7].upper() == "BEARER ":
            token = token[7:]
        if not token:
            self._fail(ctx, "")
            raise Reject(400, AUTH_FIELD_MISSING)
        header = _header(token)
        if header is None:
            self._refuse(ctx, NOT_AUTHORIZED)
        if header.get("alg") not in self.allowed:
            self._refuse(ctx, NOT_AUTHORIZED + ": Unexpected signing method")
        key = self.key
        found = None
        if self.jwks is not None:
            kid = header.get("kid")
            key = await self.jwks.key(ctx.services.oauth_http, kid) if isinstance(kid, str) else None
            if key is None:
                self._refuse(ctx, NOT_AUTHORIZED)
        elif not self.jwt.secret:  # each key's own secret, named by the kid (or the identity claim)
            found = await find_key(ctx, self._kid(token, header), self.org_id)
            secret = (found[1].raw.get("jwt_data") or {}).get("secret", "") if found is not None else ""
            key, problem = jwt_session.load_key(str(secret).encode(), self.jwt.signing_method)
            if found is None or problem:
                self._refuse(ctx, NOT_AUTHORIZED)
        elif self.key_error:
            self._refuse(ctx, NOT_AUTHORIZED)
        try:
            # Only the signature: Tyk's own time checks follow, with its skews and messages.
            claims = _verified(token, key, header["alg"])
        except (pyjwt.PyJWTError, ValueError, TypeError):
            self._refuse(ctx, NOT_AUTHORIZED)
        expired = _time_failure(claims, int(time.time()), self.jwt)
        if expired:
            raise Reject(401, f"{NOT_AUTHORIZED}: {expired}")  # Tyk fires no event for these
        if found is None:
            found = await jwt_session.centralised(ctx, claims, self.jwt, self.org_id, self.hash_function)
        if self.sets_identity:
            ctx.key, ctx.session = found
        if self.jwt.source.strip_auth_data:
            strip_credential(ctx, self.jwt.source, self.header)

    def _kid(self, token: str, header: dict[str, Any]) -> str:
        kid = header.get("kid")
        if isinstance(kid, str) and kid and not self.jwt.skip_kid:
            return kid
        claims = pyjwt.decode(token, options={"verify_signature": False})
        value = jwt_session.claim(claims, self.jwt.identity_field)
        if not isinstance(value, str) or not value:
            value = claims.get("sub")
        return value if isinstance(value, str) else ""

    @staticmethod
    def _fail(ctx: RequestContext, key: str) -> None:
        ctx.fire(
            Event.AuthFailure, AuthFailureMeta("Auth Failure", path=ctx.path, origin=ctx.origin, key=key)
        )

    def _refuse(self, ctx: RequestContext, message: str) -> NoReturn:
        """403 with AuthFailure; Tyk's meta names no key for anything decided before a session exists."""
        self._fail(ctx, "")
        raise Reject(403, message)


ONLY_SIGNATURE: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "require": [],
}


def _verified(token: str, key: Any, alg: str) -> dict[str, Any]:
    """The token's claims once its signature checks out (PyJWTError otherwise)."""
    if not alg.startswith("HS"):
        return pyjwt.decode(token, key, algorithms=[alg], options=ONLY_SIGNATURE)
    # Tyk takes HMAC secrets of any length; PyJWT's warning about short ones is not ours to raise.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        return pyjwt.decode(token, key, algorithms=[alg], options=ONLY_SIGNATURE)


def _header(token: str) -> dict[str, Any] | None:
    """The token's header, or None when it is not a JWT as Tyk parses one (three unpadded parts)."""
    if token.count(".") != 2 or "=" in token:
        return None
    try:
        header = pyjwt.get_unverified_header(token)
    except pyjwt.PyJWTError:
        return None
    return header if isinstance(header.get("alg"), str) else None


def _time_failure(claims: dict[str, Any], now: int, spec: JWTSpec) -> str:
    """Tyk's exp, iat and nbf checks with their skews; the last failing one's message, or ""."""
    failure = ""
    limits = {"exp": now - spec.exp_skew, "iat": now + spec.iat_skew, "nbf": now + spec.nbf_skew}
    for name, message in (("exp", "token has expired"), ("iat", "token used before issued"), ("nbf", NBF)):
        value = claims.get(name)
        if value is None or value == 0:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            failure = message  # a time claim that is not a number fails, as in Tyk
        elif (int(value) <= limits[name]) if name == "exp" else (int(value) > limits[name]):
            failure = message
    return failure
