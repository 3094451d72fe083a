"""Where sessions live: `apikey-<key or hash>` in the Store, org sessions under `orgkey.<org>` (never
hashed), with the key's policies applied for a request. The session object itself is `session.py`'s.

`SessionStore` names keys as Tyk does (hashed or raw) and loads, saves and deletes them, parsing a
stored text once. It never logs a raw key and never decides what a key may do.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from gateway.errors import ConfigError, StoreError
from gateway.identity import apply as policy_merge
from gateway.identity.cache import MISS, SessionCache
from gateway.identity.keyhash import generate_token, hash_str, token_org
from gateway.identity.policies import PolicySet
from gateway.identity.session import Session, parse_stored
from gateway.identity.trial import trial_fields
from gateway.log import get_logger, redact_key
from gateway.store.base import Store

log = get_logger("sessions")

__all__ = ["SessionStore"]

KEY_PREFIX = "apikey-"
QUOTA_PREFIX = "quota-"
ORG_PREFIX = "orgkey."  # org sessions: never hashed


class SessionStore:
    """Keys in the Store under Tyk's names; with `hash_keys` the raw key is never written anywhere."""

    def __init__(
        self,
        store: Store,
        *,
        hash_keys: bool,
        hash_function: str,
        min_token_length: int,
        cache: SessionCache | None = None,
    ) -> None:
        self.store = store
        self.cache = cache  # Redis only: the embedded store is in this process already
        # The quota trigger monitor's, when it is on: a reset counter's thresholds may fire again.
        self.on_quota_reset: Callable[[str, tuple[float, ...]], Awaitable[None]] | None = None
        self.hash_keys = hash_keys
        self.hash_function = hash_function
        self.min_token_length = min_token_length
        # Parsed sessions by their exact stored text: a request reads the text (so a change made by any
        # gateway is seen at once) but parses it only when it changed. Sessions are immutable.
        self._parsed: dict[str, Session] = {}
        self.policies = PolicySet()
        # Sessions with their policies applied, by (stored text, the API's org); emptied with new policies.
        self._applied: dict[tuple[str, str], Session] = {}

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

    def set_policies(self, policies: PolicySet) -> None:
        """Serve these policies from now on (a reload): every key sees them at its next request."""
        self.policies = policies
        self._applied.clear()

    def with_trial(self, session: Session, now: float, only: str | None = None) -> Session:
        """A new key's session with the expiry its policies give it (Tyk's trial period); `only` names
        the one policy to read, as a JWT user's session is made from its base policy."""
        fields = trial_fields(session.raw, self.policies, now, None if only is None else [only])
        return session.with_updates(**fields) if fields else session

    def apply_policies(self, session: Session, api_org: str | None = None) -> Session:
        """The session with its policies applied (Tyk's Apply); `policy_error` set when they cannot be."""
        if not session.names_policies:
            return session
        try:
            merged = policy_merge.apply(session.raw, self.policies, api_org)
            return Session.from_json(merged, "session with its policies applied")
        except (policy_merge.PolicyError, ConfigError) as exc:
            return dataclasses.replace(session, policy_error=str(exc))

    async def find(
        self, key: str, org_id: str | None = None, *, for_api: bool = False, last_known: bool = False
    ) -> tuple[str, Session] | None:
        """(the key it is stored under, its session). With `org_id`, a key that is not that org's is
        also tried in the org's format first, as Tyk's SessionDetail does for custom keys. `for_api`
        (a request for an API of org `org_id`) applies the key's policies, refusing another org's.
        `last_known`: a store outage may be answered from the session cache (`_read`)."""
        if len(key) < self.min_token_length:
            return None
        candidates = [key]
        if org_id is not None and token_org(key) != org_id:
            candidates.insert(0, self.custom_key(org_id, key))
        api_org = org_id if for_api else None
        for name in dict.fromkeys(candidates):
            session = await self._load(self.storage_key(name), name, api_org, last_known)
            if session is not None:
                return name, session
        return None

    async def get_by_hash(self, hashed: str) -> Session | None:
        """A session addressed by its stored id (the hash when hash_keys is on)."""
        return await self._load(KEY_PREFIX + hashed, hashed)

    async def save(self, key: str, session: Session, *, hashed: bool = False) -> None:
        name = KEY_PREFIX + (key if hashed else self.key_hash(key))
        await self.store.set(name, json.dumps(session.raw, separators=(",", ":")), _ttl(session))
        await self._changed(name)

    async def delete(self, key: str, *, hashed: bool = False) -> bool:
        name = KEY_PREFIX + (key if hashed else self.key_hash(key))
        existed = await self.store.delete(name)
        await self._changed(name)
        return existed

    async def reset_quota(self, key: str, session: Session, *, hashed: bool = False) -> None:
        """Drop the key's quota counters (Tyk's ResetQuota): the next request starts a new period."""
        ident = key if hashed else self.key_hash(key)
        scopes = {r.allowance_scope for r in session.access_rights.values() if r.allowance_scope}
        for counter in [QUOTA_PREFIX + ident, *(f"{QUOTA_PREFIX}{scope}-{ident}" for scope in scopes)]:
            await self.store.delete(counter)
            if self.on_quota_reset is not None:
                await self.on_quota_reset(counter, session.trigger_limits)

    async def reset_org_quota(self, org_id: str, session: Session) -> None:
        """Drop the org's quota counter: its next request starts a new period."""
        await self.store.delete(QUOTA_PREFIX + org_id)
        if self.on_quota_reset is not None:
            await self.on_quota_reset(QUOTA_PREFIX + org_id, session.trigger_limits)

    async def used_quota(self, key: str, *, hashed: bool = False) -> int | None:
        """Requests counted in the key's current quota period, or None when no counter exists."""
        value = await self.store.get(QUOTA_PREFIX + (key if hashed else self.key_hash(key)))
        try:
            return int(value) if value is not None else None
        except ValueError:
            return None

    def quota_key(self, key: str, scope: str = "") -> str:
        """The counter `reset_quota` and `used_quota` name: `quota-[<scope>-]<key or its hash>`."""
        return QUOTA_PREFIX + (f"{scope}-" if scope else "") + self.key_hash(key)

    async def org_raw(self, org_id: str, *, last_known: bool = False) -> str | None:
        """An org session's stored JSON text (`orgkey.<org>`), for a caller that caches the parse."""
        return await self._read(ORG_PREFIX + org_id, last_known)

    async def get_org(self, org_id: str) -> Session | None:
        value = await self.org_raw(org_id)
        return parse_stored(value, f"org {org_id}") if value is not None else None

    async def save_org(self, org_id: str, session: Session) -> None:
        await self.store.set(
            ORG_PREFIX + org_id, json.dumps(session.raw, separators=(",", ":")), _ttl(session)
        )
        await self._changed(ORG_PREFIX + org_id)

    async def delete_org(self, org_id: str) -> bool:
        existed = await self.store.delete(ORG_PREFIX + org_id)
        await self._changed(ORG_PREFIX + org_id)
        return existed

    async def list_orgs(self) -> list[str]:
        return sorted(name[len(ORG_PREFIX) :] for name in await self.store.keys(ORG_PREFIX))

    async def list_keys(self, prefix: str = "") -> list[str]:
        """Stored key ids (hashes when hash_keys is on), optionally those starting with `prefix`."""
        found = await self.store.keys(KEY_PREFIX + prefix)
        return sorted(name[len(KEY_PREFIX) :] for name in found)

    async def _read(self, name: str, last_known: bool = False) -> str | None:
        """A session's stored text, from the local cache when one is live. `last_known` (a request being
        served): when the store fails, the cache's last known text during its outage grace."""
        cache = self.cache
        if cache is None:
            return await self.store.get(name)
        if cache.live:
            found = cache.lookup(name)
            if found is not MISS:
                return cast("str | None", found)
        generation = cache.generation
        try:
            value = await self.store.get(name)
        except StoreError as exc:
            if not last_known:
                raise
            return cache.last_known(name, exc)
        if cache.outage_since is not None:  # the one check a healthy store costs, on a miss only
            cache.recovered()
        cache.put(name, value, generation)
        return value

    async def _changed(self, name: str) -> None:
        if self.cache is not None:
            await self.cache.changed(name)

    async def _load(
        self, name: str, key: str, api_org: str | None = None, last_known: bool = False
    ) -> Session | None:
        value = await self._read(name, last_known)
        if value is None:
            return None
        session = self._parsed.get(value)
        if session is None:
            session = parse_stored(value, f"key {redact_key(key)}")
            if session is None:
                return None
            _bounded_put(self._parsed, value, session)
        if api_org is None or not session.names_policies:
            return session
        applied = self._applied.get((value, api_org))
        if applied is None:
            applied = self.apply_policies(session, api_org)
            _bounded_put(self._applied, (value, api_org), applied)
        return applied


PARSED_CACHE = 4096  # parsed sessions kept per gateway process (and as many with policies applied)


# A stored session lives `session_lifetime` seconds; past this (a century) it is kept without expiry,
# as no store can count that far (Redis refuses an EX beyond about 2**63 ms: a 500 before).
MAX_LIFETIME = 100 * 365 * 86400


def _ttl(session: Session) -> float | None:
    lifetime = session.session_lifetime
    return lifetime if 0 < lifetime <= MAX_LIFETIME else None


def _bounded_put(cache: dict[Any, Session], key: Any, session: Session) -> None:
    if len(cache) >= PARSED_CACHE:
        del cache[next(iter(cache))]  # the oldest entry
    cache[key] = session
