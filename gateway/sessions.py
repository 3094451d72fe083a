"""Tyk's session object (a key's JSON) and where it lives: `apikey-<key or hash>` in the Store.

`Session` parses and type-checks the fields the middleware reads and keeps the JSON it was given, so
the REST API returns what was written. `SessionStore` names keys as Tyk does (hashed or raw) and loads,
saves and deletes them. It never logs a raw key and never decides what a key may do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ConfigError
from gateway.keyhash import generate_token, hash_str, token_org
from gateway.log import get_logger, redact_key
from gateway.store.base import Store

log = get_logger("sessions")

KEY_PREFIX = "apikey-"
QUOTA_PREFIX = "quota-"


class _Reader:
    """Typed field access on one JSON object; a wrong type names the JSON path and the value.

    JSON null reads as the zero value, as Go's decoder leaves the field untouched.
    """

    def __init__(self, where: str, path: str, obj: Mapping[str, Any]) -> None:
        self.where, self.path, self.obj = where, path, obj

    def fail(self, name: str, expected: str, value: Any) -> ConfigError:
        shown = json.dumps(value, default=repr)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        return ConfigError(self.where, f"{self.path}.{name}: expected {expected}, got {shown}")

    def number(self, name: str) -> float:
        value = self.obj.get(name)
        if value is None:
            return 0.0
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, "a number", value)
        return float(value)

    def integer(self, name: str) -> int:
        value = self.obj.get(name)
        if value is None:
            return 0
        # Go refuses 1.5 (and 1.0) for an int64 field: so do we.
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(name, "an integer", value)
        return value

    def flag(self, name: str) -> bool:
        value = self.obj.get(name)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(name, "a boolean", value)
        return value

    def text(self, name: str) -> str:
        value = self.obj.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(name, "a string", value)
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.obj.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, "an object", value)
        return value

    def items(self, name: str) -> list[Any]:
        value = self.obj.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "a list", value)
        return value


@dataclass(frozen=True, slots=True)
class Limit:
    """A per-API limit inside `access_rights`; only present when some figure is non-zero (Tyk's IsEmpty)."""

    rate: float = 0.0
    per: float = 0.0
    quota_max: int = 0
    quota_remaining: int = 0
    quota_renews: int = 0
    quota_renewal_rate: int = 0
    throttle_interval: float = 0.0
    throttle_retry_limit: int = 0

    @classmethod
    def parse(cls, r: _Reader) -> Limit | None:
        limit = cls(
            rate=r.number("rate"),
            per=r.number("per"),
            quota_max=r.integer("quota_max"),
            quota_remaining=r.integer("quota_remaining"),
            quota_renews=r.integer("quota_renews"),
            quota_renewal_rate=r.integer("quota_renewal_rate"),
            throttle_interval=r.number("throttle_interval"),
            throttle_retry_limit=r.integer("throttle_retry_limit"),
        )
        return None if limit == cls() else limit


@dataclass(frozen=True, slots=True)
class AccessRight:
    api_id: str
    api_name: str = ""
    versions: tuple[str, ...] = ()
    allowed_urls: tuple[Any, ...] = ()  # raw entries: URL-level rights are a later middleware's to parse
    allowance_scope: str = ""
    limit: Limit | None = None

    @classmethod
    def parse(cls, r: _Reader) -> AccessRight:
        versions = r.items("versions")
        for i, version in enumerate(versions):
            if not isinstance(version, str):
                raise r.fail(f"versions[{i}]", "a string", version)
        limit = r.mapping("limit")
        return cls(
            api_id=r.text("api_id"),
            api_name=r.text("api_name"),
            versions=tuple(versions),
            allowed_urls=tuple(r.items("allowed_urls")),
            allowance_scope=r.text("allowance_scope"),
            limit=Limit.parse(_Reader(r.where, f"{r.path}.limit", limit)) if limit else None,
        )


@dataclass(frozen=True, slots=True)
class Session:
    """One key's session. `raw` is the JSON it was parsed from, not copied: treat it as read-only and
    use `to_json` / `with_updates` for a changed copy."""

    rate: float = 0.0
    per: float = 0.0
    expires: int = 0  # Unix seconds; <= 0 never expires
    is_inactive: bool = False
    org_id: str = ""
    quota_max: int = 0
    quota_remaining: int = 0
    quota_renews: int = 0
    quota_renewal_rate: int = 0
    session_lifetime: int = 0  # seconds the stored key lives; 0 = for ever
    access_rights: Mapping[str, AccessRight] = field(default_factory=dict)
    meta_data: Mapping[str, Any] = field(default_factory=dict)
    last_updated: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict)  # the JSON as given, unknown fields included

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Session:
        """A session from its JSON value; ConfigError naming `where`, the field and the value if wrong."""
        if not isinstance(raw, dict):
            shown = json.dumps(raw, default=repr)[:60]
            raise ConfigError(where, f"$: expected a session object, got {shown}")
        r = _Reader(where, "$", raw)
        rights: dict[str, AccessRight] = {}
        for api_id, entry in r.mapping("access_rights").items():
            if not isinstance(entry, dict):
                raise _Reader(where, "$.access_rights", raw).fail(api_id, "an object", entry)
            rights[api_id] = AccessRight.parse(_Reader(where, f"$.access_rights.{api_id}", entry))
        return cls(
            rate=r.number("rate"),
            per=r.number("per"),
            expires=r.integer("expires"),
            is_inactive=r.flag("is_inactive"),
            org_id=r.text("org_id"),
            quota_max=r.integer("quota_max"),
            quota_remaining=r.integer("quota_remaining"),
            quota_renews=r.integer("quota_renews"),
            quota_renewal_rate=r.integer("quota_renewal_rate"),
            session_lifetime=r.integer("session_lifetime"),
            access_rights=rights,
            meta_data=r.mapping("meta_data"),
            last_updated=r.text("last_updated"),
            raw=raw,
        )

    def to_json(self) -> dict[str, Any]:
        """A deep copy of the JSON, safe for the caller to change."""
        copied: dict[str, Any] = json.loads(json.dumps(self.raw))
        return copied

    def with_updates(self, **raw_fields: Any) -> Session:
        """The session with these JSON fields replaced, parsed and checked again."""
        return Session.from_json({**self.to_json(), **raw_fields}, "session update")

    def limit_for(self, api_id: str) -> tuple[float, float]:
        """(rate, per) for this API: a non-empty per-API `limit` overrides the session's own."""
        right = self.access_rights.get(api_id)
        if right is not None and right.limit is not None:
            return right.limit.rate, right.limit.per
        return self.rate, self.per


class SessionStore:
    """Keys in the Store under Tyk's names; with `hash_keys` the raw key is never written anywhere."""

    def __init__(self, store: Store, *, hash_keys: bool, hash_function: str, min_token_length: int) -> None:
        self.store = store
        self.hash_keys = hash_keys
        self.hash_function = hash_function
        self.min_token_length = min_token_length

    def key_hash(self, key: str) -> str:
        """The key's id in storage: its hash (the algorithm its token names) or, unhashed, itself."""
        return hash_str(key) if self.hash_keys else key

    def storage_key(self, key: str) -> str:
        return KEY_PREFIX + self.key_hash(key)

    def generate_key(self, org_id: str) -> str:
        return generate_token(org_id, "", self.hash_function)

    def custom_key(self, org_id: str, key: str) -> str:
        """Tyk's name for a chosen key: the org prefix is added (legacy) or the key wrapped (base64 JSON)."""
        return generate_token(org_id, key.removeprefix(org_id), self.hash_function)

    async def get(self, key: str, org_id: str | None = None) -> Session | None:
        found = await self.find(key, org_id)
        return found[1] if found is not None else None

    async def find(self, key: str, org_id: str | None = None) -> tuple[str, Session] | None:
        """(the key it is stored under, its session). With `org_id`, a key that is not that org's is
        also tried in the org's format first, as Tyk's SessionDetail does for custom keys."""
        if len(key) < self.min_token_length:
            return None
        candidates = [key]
        if org_id is not None and token_org(key) != org_id:
            candidates.insert(0, self.custom_key(org_id, key))
        for name in dict.fromkeys(candidates):
            session = await self._load(self.storage_key(name), name)
            if session is not None:
                return name, session
        return None

    async def get_by_hash(self, hashed: str) -> Session | None:
        """A session addressed by its stored id (the hash when hash_keys is on)."""
        return await self._load(KEY_PREFIX + hashed, hashed)

    async def save(self, key: str, session: Session, *, hashed: bool = False) -> None:
        name = KEY_PREFIX + (key if hashed else self.key_hash(key))
        ttl = session.session_lifetime if session.session_lifetime > 0 else None
        await self.store.set(name, json.dumps(session.raw, separators=(",", ":")), ttl)

    async def delete(self, key: str, *, hashed: bool = False) -> bool:
        return await self.store.delete(KEY_PREFIX + (key if hashed else self.key_hash(key)))

    async def reset_quota(self, key: str, session: Session, *, hashed: bool = False) -> None:
        """Drop the key's quota counters (Tyk's ResetQuota): the next request starts a new period."""
        ident = key if hashed else self.key_hash(key)
        await self.store.delete(QUOTA_PREFIX + ident)
        for scope in {r.allowance_scope for r in session.access_rights.values() if r.allowance_scope}:
            await self.store.delete(f"{QUOTA_PREFIX}{scope}-{ident}")

    async def used_quota(self, key: str, *, hashed: bool = False) -> int | None:
        """Requests counted in the key's current quota period, or None when no counter exists."""
        value = await self.store.get(QUOTA_PREFIX + (key if hashed else self.key_hash(key)))
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    async def list_keys(self, prefix: str = "") -> list[str]:
        """Stored key ids (hashes when hash_keys is on), optionally those starting with `prefix`."""
        found = await self.store.keys(KEY_PREFIX + prefix)
        return sorted(name[len(KEY_PREFIX) :] for name in found)

    async def _load(self, name: str, key: str) -> Session | None:
        value = await self.store.get(name)
        if value is None:
            return None
        try:
            return Session.from_json(json.loads(value), f"stored session {redact_key(key)}")
        except (ValueError, RecursionError, ConfigError) as exc:
            # Tyk treats an unreadable session as absent; say why once per lookup, key redacted.
            log.warning("ignoring unreadable session for key %s: %s", redact_key(key), exc)
            return None
