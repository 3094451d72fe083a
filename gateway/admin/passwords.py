"""Basic-auth users' passwords in key bodies: hashed before a key is saved (tyk.conf
`basic_auth_hash_key_function`, bcrypt by default, as Tyk's setBasicAuthSessionPassword), and never
shown by the REST API. A bcrypt hash is made in a thread: it takes tens of milliseconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

import bcrypt

from gateway.identity.keyhash import hash_str
from gateway.identity.session import Session

BCRYPT_COST = 10  # Tyk's bcrypt.DefaultCost


async def hash_password(fields: dict[str, Any], algorithm: str, old: Session | None = None) -> dict[str, Any]:
    """The key body with its basic-auth password hashed. On an update (`old`), a body without a password
    keeps the stored one, and one that sends the stored hash back keeps it with the body's hash_type."""
    data = fields.get("basic_auth_data")
    stored = (old.raw.get("basic_auth_data") or {}) if old is not None else {}
    if not isinstance(data, dict) or not data.get("password"):
        if stored.get("password"):
            return {**fields, "basic_auth_data": {**(data or {}), **stored}}
        return fields
    password = str(data["password"])
    if stored.get("password") == password:
        return fields
    kind = algorithm or "bcrypt"
    if kind == "bcrypt":
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), bcrypt.gensalt(BCRYPT_COST))
        secret = hashed.decode()
    else:
        secret = hash_str(password, kind)
    return {**fields, "basic_auth_data": {**data, "password": secret, "hash_type": kind}}


def hidden(body: dict[str, Any]) -> dict[str, Any]:
    """A key as the REST API shows it: a basic-auth user's password (hash) left out, as Tyk blanks it."""
    data = body.get("basic_auth_data")
    if isinstance(data, dict) and "password" in data:
        body["basic_auth_data"] = {k: v for k, v in data.items() if k != "password"}
    return body
