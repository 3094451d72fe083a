"""Tyk's session object: a key's JSON, parsed and type-checked field by field (`Session`, its
`AccessRight`s), and what a stored session's text becomes (`parse_stored`).

Pure parsing: the limit parts are `limits.py`'s, applying policies is `apply.py`'s, and where sessions
live is `sessions.py`'s. It never touches the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.errors import ConfigError, non_finite
from gateway.identity import apply as policy_merge
from gateway.identity.limits import Limit, Reader, trigger_limits
from gateway.log import get_logger

log = get_logger("sessions")


@dataclass(frozen=True, slots=True)
class AccessRight:
    api_id: str
    api_name: str = ""
    versions: tuple[str, ...] = ()
    allowed_urls: tuple[Any, ...] = ()  # raw entries: URL-level rights are a later middleware's to parse
    allowance_scope: str = ""
    limit: Limit | None = None

    @classmethod
    def parse(cls, r: Reader) -> AccessRight:
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
            limit=Limit.parse(Reader(r.where, f"{r.path}.limit", limit)) if limit else None,
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
    own_limit: Limit = field(default_factory=Limit)  # the session-level figures, as a Limit
    access_rights: Mapping[str, AccessRight] = field(default_factory=dict)
    meta_data: Mapping[str, Any] = field(default_factory=dict)
    last_updated: str = ""
    trigger_limits: tuple[float, ...] = ()  # `monitor.trigger_limits`: quota usage percentages
    raw: Mapping[str, Any] = field(default_factory=dict)  # the JSON as given, unknown fields included
    # Why its policies cannot be applied (Tyk's Apply error): such a key is refused on every request.
    policy_error: str = ""

    @classmethod
    def from_json(cls, raw: Any, where: str) -> Session:
        """A session from its JSON value; ConfigError naming `where`, the field and the value if wrong."""
        if not isinstance(raw, dict):
            shown = json.dumps(raw, default=repr)[:60]
            raise ConfigError(where, f"$: expected a session object, got {shown}")
        r = Reader(where, "$", raw)
        _check_types(r)
        rights: dict[str, AccessRight] = {}
        for api_id, entry in r.mapping("access_rights").items():
            if not isinstance(entry, dict):
                raise Reader(where, "$.access_rights", raw).fail(api_id, "an object", entry)
            rights[api_id] = AccessRight.parse(Reader(where, f"$.access_rights.{api_id}", entry))
        own = Limit.read(r)
        return cls(
            rate=own.rate,
            per=own.per,
            expires=r.integer("expires"),
            is_inactive=r.flag("is_inactive"),
            org_id=r.text("org_id"),
            quota_max=own.quota_max,
            quota_remaining=own.quota_remaining,
            quota_renews=own.quota_renews,
            quota_renewal_rate=own.quota_renewal_rate,
            session_lifetime=r.integer("session_lifetime"),
            own_limit=own,
            access_rights=rights,
            meta_data=r.mapping("meta_data"),
            last_updated=r.text("last_updated"),
            trigger_limits=trigger_limits(Reader(where, "$.monitor", r.mapping("monitor"))),
            raw=raw,
        )

    def to_json(self) -> dict[str, Any]:
        """A deep copy of the JSON, safe for the caller to change."""
        copied: dict[str, Any] = json.loads(json.dumps(self.raw))
        return copied

    def with_updates(self, **raw_fields: Any) -> Session:
        """The session with these JSON fields replaced, parsed and checked again."""
        return Session.from_json({**self.to_json(), **raw_fields}, "session update")

    @property
    def policy_ids(self) -> list[str]:
        """`apply_policies`, else the legacy `apply_policy_id` (Tyk's PolicyIDs)."""
        return policy_merge.policy_ids(self.raw)

    @property
    def names_policies(self) -> bool:
        return bool(self.policy_ids)

    def limit_for(self, api_id: str) -> tuple[float, float]:
        """(rate, per) for this API: a non-empty per-API `limit` overrides the session's own."""
        limit = self.limit(api_id)
        return limit.rate, limit.per

    def limit(self, api_id: str) -> Limit:
        """The limits that apply on this API: a non-empty per-API `limit`, else the session's own."""
        right = self.access_rights.get(api_id)
        if right is not None and right.limit is not None:
            return right.limit
        return self.own_limit

    def quota_scope(self, api_id: str) -> str:
        """Tyk's `allowance_scope`: a per-API limit may share a counter (`quota-<scope>-<key>`)."""
        right = self.access_rights.get(api_id)
        return right.allowance_scope if right is not None and right.limit is not None else ""


# Every other field of Tyk's SessionState (user/session.go), typed as Go's decoder types it, so that a
# key written here reads back in any Tyk tool: fields the gateway does not use are still checked.
_INTEGERS = (
    "last_check",
    "throttle_retry_limit",
    "max_query_depth",
    "data_expires",
    "id_extractor_deadline",
    "post_expiry_grace_period",
)
_NUMBERS = ("allowance", "throttle_interval")
_TEXTS = (
    "date_created",
    "oauth_client_id",
    "certificate",
    "hmac_string",
    "rsa_certificate_id",
    "apply_policy_id",
    "alias",
    "post_expiry_action",
)
_FLAGS = (
    "hmac_enabled",
    "enable_http_signature_validation",
    "enable_detail_recording",
    "enable_detailed_recording",
)
_TEXT_LISTS = ("apply_policies", "tags", "mtls_static_certificate_bindings")
_OBJECTS = {"basic_auth_data": ("password", "hash_type"), "jwt_data": ("secret",), "oauth_keys": None}


def _check_types(r: Reader) -> None:
    for name in _INTEGERS:
        r.integer(name)
    for name in _NUMBERS:
        r.number(name)
    for name in _TEXTS:
        r.text(name)
    for name in _FLAGS:
        r.flag(name)
    for name in _TEXT_LISTS:
        for i, value in enumerate(r.items(name)):
            if not isinstance(value, str):
                raise r.fail(f"{name}[{i}]", "a string", value)
    for name, fields in _OBJECTS.items():
        inner = Reader(r.where, f"{r.path}.{name}", r.mapping(name))
        for field_name in fields if fields is not None else inner.obj:  # None: a map of strings
            inner.text(field_name)
    found = non_finite(r.obj, r.path)  # free-form fields too: an infinity stored makes the key unreadable
    if found is not None:
        raise ConfigError(r.where, f"{found[0]}: expected a finite number, got {json.dumps(found[1])}")


def parse_stored(value: str, what: str) -> Session | None:
    """A stored session's JSON text parsed; None (logged, naming `what`) when it cannot be read."""
    try:
        return Session.from_json(json.loads(value), f"stored session of {what}")
    except (ValueError, RecursionError, ConfigError) as exc:
        # Tyk treats an unreadable session as absent; say why once per lookup, key redacted.
        log.warning("ignoring unreadable session of %s: %s", what, exc)
        return None
