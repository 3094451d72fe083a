"""The event catalogue: every event name Tyk fires, and one frozen meta dataclass per event.

Names are Tyk's strings verbatim (note `RatelimitExceeded` with a lower-case l). A meta knows its Go
field names (what templates see as `.Meta.X`) and its JSON form (what JS/Python handlers see). This
module must stay pure data: no I/O, no imports from the rest of the package.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar


class Event(StrEnum):
    AuthFailure = "AuthFailure"
    KeyExpired = "KeyExpired"
    QuotaExceeded = "QuotaExceeded"
    RatelimitExceeded = "RatelimitExceeded"
    RateLimitSmoothingUp = "RateLimitSmoothingUp"
    RateLimitSmoothingDown = "RateLimitSmoothingDown"
    OrgQuotaExceeded = "OrgQuotaExceeded"
    OrgRateLimitExceeded = "OrgRateLimitExceeded"
    VersionFailure = "VersionFailure"
    UpstreamOAuthError = "UpstreamOAuthError"
    BreakerTripped = "BreakerTripped"
    BreakerReset = "BreakerReset"
    BreakerTriggered = "BreakerTriggered"
    HostDown = "HostDown"
    HostUp = "HostUp"
    CertificateExpiringSoon = "CertificateExpiringSoon"
    CertificateExpired = "CertificateExpired"
    TokenCreated = "TokenCreated"
    TokenUpdated = "TokenUpdated"
    TokenDeleted = "TokenDeleted"
    TriggerExceeded = "TriggerExceeded"
    OAuth2ScopeCheckFailed = "OAuth2ScopeCheckFailed"
    OAuth2ExchangeSucceeded = "OAuth2ExchangeSucceeded"
    OAuth2ExchangeFailed = "OAuth2ExchangeFailed"
    # Not in Tyk: the gateway's own events about its webhook delivery and its keys (issue 16).
    WebhookDeliveryFailed = "WebhookDeliveryFailed"
    WebhookEndpointPaused = "WebhookEndpointPaused"
    WebhookEndpointResumed = "WebhookEndpointResumed"
    KeyExpiringSoon = "KeyExpiringSoon"


_KNOWN = frozenset(Event)


def is_custom(name: object) -> bool:
    """A name user code may fire: a non-empty string that is none of the gateway's own events."""
    return isinstance(name, str) and bool(name.strip()) and name not in _KNOWN


EPOCH = datetime.fromtimestamp(0, UTC)

_ACRONYMS = {"id": "ID", "api": "API", "url": "URL"}


def go_name(snake: str) -> str:
    """`api_id` -> `APIID`, `originating_request` -> `OriginatingRequest`: Go's exported field names."""
    return "".join(_ACRONYMS.get(part, part.capitalize()) for part in snake.split("_"))


@dataclass(frozen=True, slots=True)
class EventMeta:
    """Tyk's default meta part: every meta has a message and (maybe empty) originating request."""

    message: str
    originating_request: str = field(default="", kw_only=True)
    # Not in Tyk: the X-Request-ID of the request that fired it (`.Meta.RequestID`, shown only when set).
    request_id: str = field(default="", kw_only=True)
    # Tyk's trigger and certificate metas declare snake_case JSON tags; the others use Go names.
    json_snake: ClassVar[bool] = False
    # True for metas of request-caused events: the bus fills originating_request when a handler exists.
    from_request: ClassVar[bool] = False

    def go_fields(self) -> dict[str, Any]:
        """The meta as templates see it (`.Meta.Message`, `.Meta.Path`, ...)."""
        out = {name: getattr(self, attr) for attr, name in _go_names(type(self))}
        if self.request_id:
            out["RequestID"] = self.request_id
        return out

    def json_fields(self) -> dict[str, Any]:
        """The meta as Tyk's JSON encoding shows it to JS and Python handlers."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "request_id" and not value:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            if f.name in ("message", "originating_request", "request_id") or not self.json_snake:
                out[go_name(f.name)] = value
            else:
                out[f.name] = value
        return out


@dataclass(frozen=True, slots=True)
class KeyFailureMeta(EventMeta):
    path: str = ""
    origin: str = ""
    key: str = ""
    from_request: ClassVar[bool] = True


class AuthFailureMeta(KeyFailureMeta):
    __slots__ = ()


class KeyExpiredMeta(KeyFailureMeta):
    __slots__ = ()


class QuotaExceededMeta(KeyFailureMeta):
    __slots__ = ()


class RatelimitExceededMeta(KeyFailureMeta):
    __slots__ = ()


class RateLimitSmoothingMeta(KeyFailureMeta):
    __slots__ = ()


class OrgQuotaExceededMeta(KeyFailureMeta):
    __slots__ = ()


class OrgRateLimitExceededMeta(KeyFailureMeta):
    __slots__ = ()


@dataclass(frozen=True, slots=True)
class VersionFailureMeta(KeyFailureMeta):
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BreakerMeta(EventMeta):
    path: str = ""
    api_id: str = ""
    circuit_event: int = 0  # Tyk's enum order: 0 = tripped, 1 = reset


@dataclass(frozen=True, slots=True)
class HostStatusMeta(EventMeta):
    host_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenMeta(EventMeta):
    org: str = ""
    key: str = ""


@dataclass(frozen=True, slots=True)
class TriggerMeta(EventMeta):
    org_id: str = ""
    key: str = ""
    trigger_limit: int = 0
    usage_percentage: int = 0
    json_snake: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class UpstreamOAuthMeta(EventMeta):
    api_id: str = ""
    from_request: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class CertExpiringMeta(EventMeta):
    cert_id: str = ""
    cert_name: str = ""
    expires_at: datetime = EPOCH
    days_remaining: int = 0
    api_id: str = ""
    cert_role: str = ""
    json_snake: ClassVar[bool] = True

    def json_fields(self) -> dict[str, Any]:
        return _omit_empty_api_id(EventMeta.json_fields(self))


@dataclass(frozen=True, slots=True)
class CertExpiredMeta(EventMeta):
    cert_id: str = ""
    cert_name: str = ""
    expired_at: datetime = EPOCH
    days_since_expiry: int = 0
    api_id: str = ""
    cert_role: str = ""
    json_snake: ClassVar[bool] = True

    def json_fields(self) -> dict[str, Any]:
        return _omit_empty_api_id(EventMeta.json_fields(self))


@dataclass(frozen=True, slots=True)
class WebhookFailedMeta(EventMeta):
    """Not in Tyk: a delivery that exhausted its retries or met 410 Gone (kept as `failed`)."""

    webhook_id: str = ""
    target: str = ""  # method and URL without its query, as the delivery log shows it
    attempts: int = 0
    last_error: str = ""
    event: str = ""  # the event the failed delivery carried
    api_id: str = ""
    json_snake: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class EndpointMeta(EventMeta):
    """Not in Tyk: a webhook target paused by its failure budget, or resumed by a probe."""

    target: str = ""  # scheme://host:port of the paused receiver
    reason: str = ""
    json_snake: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class KeyExpiringMeta(EventMeta):
    """Not in Tyk: a key whose `expires` falls within one of `events.key_expiry_warning_days`."""

    key: str = ""  # redacted as logs redact keys
    expires_at: datetime = EPOCH
    days_remaining: int = 0
    org_id: str = ""
    json_snake: ClassVar[bool] = True


def _omit_empty_api_id(fields: dict[str, Any]) -> dict[str, Any]:
    """Tyk's certificate metas tag api_id `omitempty` (a server certificate's events have none)."""
    if not fields.get("api_id"):
        fields.pop("api_id", None)
    return fields


@dataclass(frozen=True, slots=True)
class MapMeta(EventMeta):
    """Tyk's OAuth2 events carry a plain string map, and custom events any extra fields."""

    values: dict[str, Any] = field(default_factory=dict)

    def go_fields(self) -> dict[str, Any]:
        out = {"Message": self.message, "OriginatingRequest": self.originating_request, **self.values}
        if self.request_id:
            out["RequestID"] = self.request_id
        return out

    def json_fields(self) -> dict[str, Any]:
        return self.go_fields()


META_TYPES: dict[Event, type[EventMeta]] = {
    Event.AuthFailure: AuthFailureMeta,
    Event.KeyExpired: KeyExpiredMeta,
    Event.QuotaExceeded: QuotaExceededMeta,
    Event.RatelimitExceeded: RatelimitExceededMeta,
    Event.RateLimitSmoothingUp: RateLimitSmoothingMeta,
    Event.RateLimitSmoothingDown: RateLimitSmoothingMeta,
    Event.OrgQuotaExceeded: OrgQuotaExceededMeta,
    Event.OrgRateLimitExceeded: OrgRateLimitExceededMeta,
    Event.VersionFailure: VersionFailureMeta,
    Event.UpstreamOAuthError: UpstreamOAuthMeta,
    Event.BreakerTripped: BreakerMeta,
    Event.BreakerReset: BreakerMeta,
    Event.BreakerTriggered: BreakerMeta,
    Event.HostDown: HostStatusMeta,
    Event.HostUp: HostStatusMeta,
    Event.CertificateExpiringSoon: CertExpiringMeta,
    Event.CertificateExpired: CertExpiredMeta,
    Event.TokenCreated: TokenMeta,
    Event.TokenUpdated: TokenMeta,
    Event.TokenDeleted: TokenMeta,
    Event.TriggerExceeded: TriggerMeta,
    Event.OAuth2ScopeCheckFailed: MapMeta,
    Event.OAuth2ExchangeSucceeded: MapMeta,
    Event.OAuth2ExchangeFailed: MapMeta,
    Event.WebhookDeliveryFailed: WebhookFailedMeta,
    Event.WebhookEndpointPaused: EndpointMeta,
    Event.WebhookEndpointResumed: EndpointMeta,
    Event.KeyExpiringSoon: KeyExpiringMeta,
}


def go_timestamp(moment: datetime) -> str:
    """Go's default time printing, as Tyk puts it in `.TimeStamp`: `2026-08-21 12:39:47.123456 +0000 UTC`."""
    whole, suffix = _second(int(moment.timestamp()))
    frac = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return whole + frac + suffix


@functools.lru_cache(maxsize=4)
def _second(unix: int) -> tuple[str, str]:
    """The date, time and zone parts of one wall-clock second: a flood of events formats them once."""
    local = datetime.fromtimestamp(unix, UTC).astimezone()
    offset = local.strftime("%z")
    return local.strftime("%Y-%m-%d %H:%M:%S"), f" {offset} {local.tzname() or offset}"


_GO_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}


def _go_names(cls: type) -> tuple[tuple[str, str], ...]:
    """(attribute, Go field name) of a meta class, worked out once per class."""
    found = _GO_NAMES.get(cls)
    if found is None:
        fields = [f for f in dataclasses.fields(cls) if f.name != "request_id"]  # go_fields: only when set
        found = _GO_NAMES[cls] = tuple((f.name, go_name(f.name)) for f in fields)
    return found


@dataclass(frozen=True, slots=True)
class EventMessage:
    """Tyk's EventMessage envelope: Type, Meta, TimeStamp; plus the API that owns the handlers."""

    type: str  # an Event, or a custom event name
    meta: EventMeta
    api_id: str = ""
    org_id: str = ""
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Not in Tyk: the traceparent of the traced request that fired it ("" none); webhooks link to it.
    trace: str = ""

    def template_data(self) -> dict[str, Any]:
        """What a template sees; `EventType`/`EventMetaData` are the v1.9 names, accepted as aliases."""
        meta = self.meta.go_fields()
        stamp = go_timestamp(self.timestamp)
        return {
            "Type": str(self.type),
            "Meta": meta,
            "TimeStamp": stamp,
            "EventType": str(self.type),
            "EventMetaData": meta,
        }

    def json_envelope(self) -> dict[str, Any]:
        """What JS and Python handlers receive: Tyk's untagged envelope (plus the v1.9 aliases)."""
        meta = self.meta.json_fields()
        return {
            "Type": str(self.type),
            "Meta": meta,
            "TimeStamp": go_timestamp(self.timestamp),
            "EventType": str(self.type),
            "EventMetaData": meta,
        }


def custom_meta(fields: Mapping[str, Any]) -> MapMeta:
    """The meta of a custom event: `Message` and every other field as `.Meta.<Name>`."""
    values = {str(k): v for k, v in fields.items() if k != "Message"}
    return MapMeta(str(fields.get("Message", "")), values=values)
