"""What a verified JWT becomes with a centralised secret (Tyk's processCentralisedJWT): the user's key,
`<org><md5 of the identity claim>`, created or updated from the token's policy (or the API's default
policies) and stored as an ordinary key, so its limits are shared across gateways; and the public
keys Tyk accepts (SubjectPublicKeyInfo or an X.509 certificate, PEM or DER).

Tyk's statuses, messages and AuthFailure keys for each refusal; it never verifies a signature itself.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.apidef.model import JWTSpec
from gateway.context import RequestContext
from gateway.errors import STORE_PROBLEM, Reject, StoreError
from gateway.events.catalog import AuthFailureMeta, Event
from gateway.identity.keyhash import generate_token
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore

NO_POLICY = "key not authorized: no matching policy"
NO_POLICY_FOUND = "key not authorized: no matching policy found"


def load_key(raw: bytes, method: str) -> tuple[Any, str]:
    """(the verification key, "") or (None, why not): raw bytes for HMAC, a public key otherwise."""
    if method == "hmac":
        return raw, ""
    try:
        text = raw.decode("latin-1")
        if "-----BEGIN" in text:
            start = text.index("-----BEGIN")
            block = text[start : text.index("-----END", start)]
            block += text[text.index("-----END", start) :].split("\n", 1)[0]
            data, pem = block.encode("latin-1"), True
        else:
            data, pem = raw, False
        try:
            load = serialization.load_pem_public_key if pem else serialization.load_der_public_key
            return load(data), ""
        except ValueError:
            cert = x509.load_pem_x509_certificate(data) if pem else x509.load_der_x509_certificate(data)
            return cert.public_key(), ""
    except ValueError as exc:
        return None, f"cannot read the JWT key: {exc}"


def claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by name, or by a dotted path into nested objects when no claim has that literal name."""
    if path in claims:
        return claims[path]
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def identity(claims: dict[str, Any], field: str) -> str:
    """Tyk's user id: the identity claim, else `sub`; a 403 with Tyk's message when neither names one."""
    value = claim(claims, field)
    if isinstance(value, str) and value:
        return value
    if field in claims and value == "":
        raise _missing(f"found an empty user ID in predefined base claim, claim: {field}")
    sub = claims.get("sub")
    if isinstance(sub, str):
        if sub:
            return sub
        raise _missing("found an empty user ID in sub claim")
    raise _missing("no suitable claims for user ID were found")


class _Missing(Reject):
    pass


def _missing(message: str) -> Reject:
    return _Missing(403, message)


async def centralised(
    ctx: RequestContext, claims: dict[str, Any], spec: JWTSpec, org_id: str, hash_function: str
) -> tuple[str, Session]:
    """The user's key and session (policies applied), created or brought up to date from the token."""
    try:
        user = identity(claims, spec.identity_field)
    except _Missing:
        _auth_failure(ctx, "[NOT FOUND]")
        raise
    key_id = generate_token(org_id, hashlib.md5(user.encode()).hexdigest(), hash_function)
    sessions = ctx.services.sessions
    base = await _base_policy(sessions, claims, spec, org_id)
    if base and sessions.policies.find(org_id, base) is None:
        _auth_failure(ctx, user)
        raise Reject(403, NO_POLICY)
    try:
        wanted, scoped = _wanted(claims, spec, base)
    except Reject:
        _auth_failure(ctx, user)
        raise
    try:
        found = await sessions.find(key_id, org_id, last_known=True)  # saved below only if it changed
    except StoreError as exc:
        raise Reject(500, STORE_PROBLEM) from exc
    expires = claims.get("exp")
    if found is None or found[1].policy_error:
        raw: dict[str, Any] = {"org_id": org_id, "apply_policies": wanted}
        raw.update(meta_data={"TykJWTSessionID": key_id}, alias=user)
        if wanted:  # Tyk makes a user's first session from its base policy, trial period included
            raw.update(sessions.with_trial(Session.from_json(raw, "JWT session"), time.time(), wanted[0]).raw)
        created = True
    else:
        raw = found[1].to_json()
        created = raw.get("apply_policies") != wanted
        raw["apply_policies"] = wanted
    if (
        isinstance(expires, int | float)
        and not isinstance(expires, bool)
        and expires > (raw.get("expires") or 0)
    ):
        raw["expires"], created = int(expires), True
    session = sessions.apply_policies(Session.from_json(raw, "JWT session"), org_id)
    if session.policy_error:
        if found is None:
            raise Reject(500, f"failed to create key: {session.policy_error}")
        _auth_failure(ctx, user)
        raise Reject(
            403, "key not authorized: could not apply " + ("several policies" if scoped else "new policy")
        )
    if created:
        try:
            await sessions.save(key_id, session)
        except StoreError as exc:
            raise Reject(500, STORE_PROBLEM) from exc
    return key_id, session


async def _base_policy(sessions: SessionStore, claims: dict[str, Any], spec: JWTSpec, org_id: str) -> str:
    """Tyk's getBasePolicyID: the policy claim, else the first policy of the key a client claim names."""
    if spec.policy_field:
        named = claim(claims, spec.policy_field)
        return named if isinstance(named, str) else ""
    client = claims.get(spec.client_field) if spec.client_field else None
    if not isinstance(client, str) or not client:
        return ""
    try:
        found = await sessions.find(client, org_id, last_known=True)
    except StoreError as exc:
        raise Reject(500, STORE_PROBLEM) from exc
    return found[1].policy_ids[0] if found is not None and found[1].policy_ids else ""


def _wanted(claims: dict[str, Any], spec: JWTSpec, base: str) -> tuple[list[str], bool]:
    """The session's policies (and whether scopes chose them): the token's policy with the policies its
    scopes map to, else that policy alone, else the API's defaults (Tyk drops defaults with scopes)."""
    scopes = _scopes(claims, spec.scope_claim) if spec.scope_policies else []
    if scopes:
        mapping = dict(spec.scope_policies)
        chosen = ([base] if base else []) + [mapping[s] for s in scopes if s in mapping]
        if not chosen:
            raise Reject(403, "key not authorized: no matching policy found in scope claim")
        return list(dict.fromkeys(chosen)), True
    wanted = [base] if base else list(spec.default_policies)
    if not wanted:
        raise Reject(403, NO_POLICY_FOUND)
    return wanted, False


def _scopes(claims: dict[str, Any], path: str) -> list[str]:
    """Tyk's scope claim: a nested dotted path; a string of space-separated scopes or a list of them."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        return [s for s in value.split(" ") if s]
    found: list[str] = []
    stack = [value] if isinstance(value, list) else []
    while stack:
        for item in stack.pop():
            if isinstance(item, str):
                found.append(item)
            elif isinstance(item, list):
                stack.append(item)
    return found


def _auth_failure(ctx: RequestContext, key: str) -> None:
    ctx.fire(Event.AuthFailure, AuthFailureMeta("Auth Failure", path=ctx.path, origin=ctx.origin, key=key))
