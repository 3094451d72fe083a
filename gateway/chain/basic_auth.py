"""Basic auth middleware: a `user:password` credential checked against the user's key, as Tyk's
BasicAuthKeyIsValid does it, statuses, messages and the `WWW-Authenticate` challenge included.

The user is the key named by the user name in the API's org; its `basic_auth_data` says how the
password is stored (plain, a hex hash, or bcrypt, Tyk's default). With `extract_from_body`, a request
whose header gives no credential has it read from its body by two regular expressions (chain/body.py).
A bcrypt check runs in a thread (it takes tens of milliseconds) and a success is remembered for
`cache_ttl` seconds, keyed by the stored hash. It does not check expiry or access rights: the key steps
after it do, on the identity's session.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import ClassVar

import bcrypt

from gateway.apidef.model import APISpec, BasicAuthSpec
from gateway.chain.auth import find_key, header_key, read_credential, strip_credential
from gateway.chain.body import read_body
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import AUTH_FIELD_MISSING, Reject
from gateway.events.catalog import AuthFailureMeta, Event
from gateway.identity.keyhash import hash_str
from gateway.identity.session import Session

NOT_AUTHORISED = "User not authorised"
MALFORMED = "Attempted access with malformed header, "
HEX_HASHES = ("sha256", "murmur32", "murmur64", "murmur128")
CACHE_SIZE = 4096  # bcrypt results remembered per API


class BasicAuth:
    name: ClassVar[str] = "basic_auth"

    def __init__(self, spec: APISpec, config: Config) -> None:
        assert spec.basic_auth is not None
        self.basic: BasicAuthSpec = spec.basic_auth
        self.org_id = spec.org_id
        self.header = header_key(self.basic.source)
        # Tyk sets the realm to the API's name as it is, and sends it with both 401s.
        self.challenge = ((b"www-authenticate", f'Basic realm="{spec.name}"'.encode()),)
        self.sets_identity = spec.identity in ("", "basic_auth_user")  # base_identity_provided_by
        self._verified: dict[str, tuple[bytes, float]] = {}  # stored bcrypt hash -> (password digest, until)
        self.reads_body = bool(self.basic.body_user)  # routing hands the body over only then
        self._body = (
            (re.compile(self.basic.body_user.encode()), re.compile(self.basic.body_password.encode()))
            if self.reads_body
            else None
        )

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        return spec.basic_auth is not None

    async def on_request(self, ctx: RequestContext) -> None:
        raw = read_credential(ctx, self.basic.source, self.header)
        try:
            if not raw:
                raise Reject(401, AUTH_FIELD_MISSING, self.challenge)
            user, password = _user_and_password(raw)
        except Reject:
            if self._body is None:
                raise
            # Tyk: any header failure tries the body, whose own errors replace it, without a challenge.
            user, password = _from_body(await read_body(ctx), *self._body)
        found = await find_key(ctx, user, self.org_id)
        if found is None or not await self._password_ok(found[1], password):
            # Tyk's meta carries the Authorization header as sent, whichever source held the credential.
            sent = (ctx.header(b"authorization") or b"").decode("latin-1")
            meta = AuthFailureMeta("Auth Failure", path=ctx.path, origin=ctx.origin, key=sent)
            ctx.fire(Event.AuthFailure, meta)
            raise Reject(401, NOT_AUTHORISED, self.challenge)
        if self.sets_identity:
            ctx.key, ctx.session = found
        if self.basic.source.strip_auth_data:
            strip_credential(ctx, self.basic.source, self.header)

    async def _password_ok(self, session: Session, password: str) -> bool:
        data = session.raw.get("basic_auth_data") or {}
        stored, kind = str(data.get("password") or ""), str(data.get("hash_type") or "")
        if not kind:  # stored as sent (Tyk's "plain"): a key without a password takes an empty one
            return hmac.compare_digest(stored.encode(), password.encode())
        if kind in HEX_HASHES:
            return hmac.compare_digest(stored.encode(), hash_str(password, kind).encode())
        return bool(stored) and await self._bcrypt(stored, password)  # bcrypt, and Tyk's default

    async def _bcrypt(self, stored: str, password: str) -> bool:
        digest = hashlib.sha256(password.encode()).digest()
        now = time.monotonic()
        caching = not self.basic.disable_caching
        remembered = self._verified.get(stored) if caching else None
        if remembered is not None and remembered[1] > now and hmac.compare_digest(remembered[0], digest):
            return True
        try:
            ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), stored.encode())
        except ValueError:  # not a bcrypt hash
            return False
        if ok and caching:
            if len(self._verified) >= CACHE_SIZE:
                del self._verified[next(iter(self._verified))]  # the oldest entry
            self._verified[stored] = (digest, now + self.basic.cache_ttl)
        return ok


def _user_and_password(raw: str) -> tuple[str, str]:
    """Tyk's parsing: two space-separated parts (the scheme word is not checked), standard base64, and
    exactly one colon in what it decodes to; each failure is a 400 of its own, with no event."""
    parts = raw.split(" ")
    if len(parts) != 2:
        raise Reject(400, MALFORMED + "header not in basic auth format")
    try:
        # Bytes that are not UTF-8 become U+FFFD: such a user or password then simply does not match.
        decoded = base64.b64decode(parts[1], validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        raise Reject(400, MALFORMED + "auth data not encoded correctly") from None
    fields = decoded.split(":")
    if len(fields) != 2:
        raise Reject(400, MALFORMED + "values not in basic auth format")
    return fields[0], fields[1]


def _from_body(body: bytes, user: re.Pattern[bytes], password: re.Pattern[bytes]) -> tuple[str, str]:
    """The first match of each expression, its first group; Tyk's 400s when either is missing."""
    found = []
    for pattern, what in ((user, "username"), (password, "password")):
        match = pattern.search(body)
        if match is None:
            raise Reject(400, f"Body do not contain {what}")
        if match.group(1) is None:
            raise Reject(400, f"{what} should be inside regexp match group")
        found.append(match.group(1).decode("utf-8", "replace"))
    return found[0], found[1]
