"""RequestContext (the narrow per-request facade) and Services (everything a middleware may touch).

A middleware sees the API spec, the request view, the session it loaded and `fire`; it reaches the
store only through `Services`. Firing is deferred to `flush_events`, which the route calls once the chain
has decided, so the originating request is serialised only when a handler exists for the event
(breakers fire through the bus directly: they carry no originating request). Each request has an id,
`request_id`: the client's X-Request-ID when it is safe, else one made here (a counter, no syscall).
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.apidef.model import APISpec
from gateway.certs.registry import CertRegistry
from gateway.config.model import Config
from gateway.events import originating
from gateway.events.bus import EventBus
from gateway.events.catalog import EventMessage, EventMeta
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from gateway.log import Throttle
from gateway.monitors.quota import TriggerMonitor
from gateway.store.base import Store
from gateway.store.limiter import Limiter

if TYPE_CHECKING:
    import httpx

    from gateway.upstream.proxy import Receive, Scope


# X-Request-ID: a client's value is kept when it is 1-128 of these characters, else replaced by ours.
REQUEST_ID_MAX = 128
_ID_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:+/=@"
# Where a traced request keeps its span's traceparent in the scope (observe/traced.py): only tracing sets
# it, and only flush_events reads it, so a request that fires no event never looks.
TRACEPARENT = "gateway.traceparent"
# And, per recorded event, the traceparent of the span tracing made for it ("" where it made none).
EVENT_TRACES = "gateway.event_traces"
_ids = itertools.count(1)
_id_prefix = ""


def _new_prefix() -> None:
    """A random prefix per process (again in each forked worker), so that ids never repeat across them."""
    global _id_prefix, _ids
    _id_prefix, _ids = os.urandom(8).hex() + "-", itertools.count(1)


_new_prefix()
os.register_at_fork(after_in_child=_new_prefix)


def request_id(headers: list[tuple[bytes, bytes]]) -> tuple[str, int]:
    """The request's id and where it came from: 1 the client's X-Request-ID, kept (it goes upstream as
    sent); 0 none sent, ours made; -1 the client's unsafe or too long, replaced by ours (a counter after a
    random per-process prefix: a fraction of a microsecond, unique, never a secret)."""
    for name, value in headers:
        if name == b"x-request-id":
            if 0 < len(value) <= REQUEST_ID_MAX and not value.translate(None, _ID_SAFE):
                return value.decode("ascii"), 1
            return f"{_id_prefix}{next(_ids):x}", -1
    return f"{_id_prefix}{next(_ids):x}", 0


@dataclass(slots=True)
class Services:
    config: Config
    store: Store
    sessions: SessionStore
    limiter: Limiter
    bus: EventBus
    clock: Callable[[], float] = time.time
    # Outbound calls the chain makes: upstream OAuth tokens, JWKS endpoints (app/parts.py owns it).
    oauth_http: httpx.AsyncClient | None = None
    # One "store unavailable" line per 30 s per gateway, however many requests hit the outage.
    outage_log: Throttle = field(default_factory=lambda: Throttle(30.0))
    # The certificates each API uses (mutual TLS, upstream), swapped in on every load.
    certs: CertRegistry = field(default_factory=CertRegistry)
    # tyk.conf `monitor` (TriggerExceeded); None when off, so the quota steps pay nothing for it.
    trigger_monitor: TriggerMonitor | None = None


class Outgoing:
    """What the chain changed about the request it forwards and the answer the client gets: the one
    value routing builds the upstream request from. The scope itself is never edited, so every step
    (and a base API handing over to a child version) still reads the request as received."""

    # Class-level defaults, immutable, and no __init__: one is made per request, and most requests
    # change nothing, so making one costs an empty object (a step that changes something sets its own).
    path: bytes | None = None  # a rewritten raw path (version stripped); None = as received
    query: bytes | None = None  # a rewritten query string; None = as received
    drop: frozenset[bytes] = frozenset()  # client headers (lower-case) not to forward
    add: tuple[tuple[str, str], ...] = ()  # headers sent upstream besides the client's
    reply: tuple[tuple[bytes, bytes], ...] = ()  # headers added to the client's answer
    api_expires: bytes | None = None  # x-tyk-api-expires for the client, in either header mode
    quota_live: tuple[int, int] | None = None  # (remaining, renews) once KeyQuota counted
    # The request body's source, handed over by routing only to a chain that reads the body (Basic auth
    # credentials in it); once read, a replay of `body`, so the upstream gets what the client sent.
    receive: Receive | None = None
    body: bytes | None = None

    def raw_path(self, scope: Scope) -> bytes:
        return self.path or scope.get("raw_path") or scope["path"].encode()

    def query_string(self, scope: Scope) -> bytes:
        return scope.get("query_string", b"") if self.query is None else self.query

    def drop_header(self, name: bytes) -> None:
        """Do not forward the client's `name` header (lower-case)."""
        self.drop = self.drop | {name}

    def set_header(self, name: str, value: str) -> None:
        """Send `name: value` upstream in place of what the client sent (Go's Header.Set)."""
        self.remove_header(name)
        self.add += ((name, value),)

    def remove_header(self, name: str) -> None:
        lower = name.lower()
        self.drop_header(lower.encode("latin-1"))
        if self.add:
            self.add = tuple(h for h in self.add if h[0].lower() != lower)


class RequestContext:
    __slots__ = (
        "_headers",
        "key",
        "outgoing",
        "pending",
        "quota_counted",
        "request_id",
        "request_id_from",
        "scope",
        "services",
        "session",
        "spec",
        "version",
    )

    def __init__(self, spec: APISpec, scope: Scope, services: Services) -> None:
        self.spec = spec
        self.scope = scope
        self.services = services
        self.session: Session | None = None
        self.key = ""  # the key id (as stored, unhashed), once auth found a session for it
        self.pending: list[tuple[str, EventMeta]] = []
        self.outgoing = Outgoing()  # what the chain changed about the forwarded request and the answer
        self._headers: dict[bytes, bytes] | None = None
        self.version: str | None = None  # the version a versioned API was asked for (or its default)
        # (count, seconds to reset) when the rate limit step already counted the quota in its round trip
        self.quota_counted: tuple[int, float] | None = None
        # X-Request-ID (`request_id` above): sent upstream, on the answer, in event metas and log lines.
        self.request_id, self.request_id_from = request_id(scope["headers"])
        if self.request_id_from < 0:  # the client's unusable one is not forwarded: ours goes instead
            self.outgoing.drop_header(b"x-request-id")

    @property
    def path(self) -> str:
        """The request path before the listen path is stripped (Tyk's `.Meta.Path`)."""
        return str(self.scope["path"])

    def header(self, name: bytes) -> bytes | None:
        """A request header by lower-case name (the first one, as Go's Header.Get)."""
        if self._headers is None:
            self._headers = {}
            for k, v in self.scope["headers"]:
                self._headers.setdefault(k, v)
        return self._headers.get(name)

    @property
    def origin(self) -> str:
        """Tyk's client IP: a valid X-Real-IP, else the xff_depth-th X-Forwarded-For entry, else the peer."""
        real = self.header(b"x-real-ip")
        if real and _valid_ip(real.decode("latin-1").strip()):
            return real.decode("latin-1").strip()
        xff = self.header(b"x-forwarded-for")
        if xff:
            parts = [p.strip() for p in xff.decode("latin-1").split(",")]
            depth = self.services.config.http_server_options.xff_depth
            pick = parts[0] if depth == 0 else (parts[-depth] if depth <= len(parts) else "")
            if _valid_ip(pick):
                return pick
        client = self.scope.get("client")
        return str(client[0]) if client else ""

    def now(self) -> float:
        return self.services.clock()

    def fire(self, event: str, meta: EventMeta) -> None:
        """Record an event for this API; cheap when no handler listens (no meta work is kept)."""
        if self.services.bus.wants(self.spec.api_id, event):
            self.pending.append((event, meta))

    async def flush_events(self, receive: Receive | None) -> None:
        """Hand the recorded events to the bus, with the originating request when a meta carries one.

        `receive` is given only when the request was rejected: its body, which nobody else will read,
        is then captured up to the configured cap. A request going upstream keeps its body untouched.
        """
        if not self.pending:
            return
        bus, api_id = self.services.bus, self.spec.api_id
        # Serialised only for events some handler may read it in (not Tyk's default webhook template).
        wanted = [meta.from_request and bus.wants_request(api_id, event) for event, meta in self.pending]
        wire = ""
        if any(wanted):
            cap = self.services.config.events.originating_request_body_cap
            body = await originating.read_capped(receive, cap)
            wire = base64.b64encode(originating.encode_request(self.scope, body)).decode()
        fire, trace = bus.fire, self.scope.get(TRACEPARENT, "")
        traces: list[str] = self.scope.pop(EVENT_TRACES, None) or []
        for n, ((event, meta), want) in enumerate(zip(self.pending, wanted, strict=True)):
            if want:
                meta = dataclasses.replace(meta, originating_request=wire, request_id=self.request_id)
            else:
                meta = dataclasses.replace(meta, request_id=self.request_id)
            own = traces[n] if n < len(traces) else ""  # the event's span, else the request's
            fire(EventMessage(event, meta, self.spec.api_id, self.spec.org_id, trace=own or trace))
        self.pending.clear()


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


__all__ = ["EVENT_TRACES", "TRACEPARENT", "Outgoing", "RequestContext", "Services", "request_id"]
