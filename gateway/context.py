"""RequestContext (the narrow per-request facade) and Services (everything a middleware may touch).

A middleware sees the API spec, the request view, the session it loaded and `fire`; it reaches the
store only through `Services`. Firing is deferred to `flush_events`, which the route calls once the chain
has decided, so the originating request is serialised only when a handler exists for the event
(breakers fire through the bus directly: they carry no originating request).
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.apidef.model import APISpec
from gateway.certs.registry import CertRegistry
from gateway.config.model import Config
from gateway.events.bus import EventBus
from gateway.events.catalog import EventMessage, EventMeta
from gateway.identity.sessions import Session, SessionStore
from gateway.log import Throttle
from gateway.monitors.quota import TriggerMonitor
from gateway.store.base import Store
from gateway.store.limiter import Limiter
from gateway.upstream.balancer import DownHosts

if TYPE_CHECKING:
    import httpx

    from gateway.upstream.proxy import Receive, Scope, Upstream


@dataclass(slots=True)
class Services:
    config: Config
    store: Store
    sessions: SessionStore
    limiter: Limiter
    bus: EventBus
    upstream: Upstream
    clock: Callable[[], float] = time.time
    down_hosts: DownHosts = field(default_factory=DownHosts)  # refreshed by the uptime checker
    oauth_http: httpx.AsyncClient | None = None  # upstream OAuth token requests (app/gateway.py owns it)
    # One "store unavailable" line per 30 s per gateway, however many requests hit the outage.
    outage_log: Throttle = field(default_factory=lambda: Throttle(30.0))
    # The certificates each API uses (mutual TLS, upstream), swapped in on every load.
    certs: CertRegistry = field(default_factory=CertRegistry)
    # tyk.conf `monitor` (TriggerExceeded); None when off, so the quota steps pay nothing for it.
    trigger_monitor: TriggerMonitor | None = None


class RequestContext:
    __slots__ = (
        "_headers",
        "api_expires",
        "drop_headers",
        "extra_request_headers",
        "key",
        "pending",
        "query",
        "quota_counted",
        "quota_live",
        "response_headers",
        "scope",
        "services",
        "session",
        "spec",
        "upstream_path",
        "version",
    )

    def __init__(self, spec: APISpec, scope: Scope, services: Services) -> None:
        self.spec = spec
        self.scope = scope
        self.services = services
        self.session: Session | None = None
        self.key = ""  # the key id (as stored, unhashed), once auth found a session for it
        self.pending: list[tuple[str, EventMeta]] = []
        self.response_headers: list[tuple[bytes, bytes]] = []  # added to the client response
        self.drop_headers: frozenset[bytes] = frozenset()  # request headers not to forward (strip auth)
        self.extra_request_headers: list[tuple[str, str]] = []  # added upstream (a rewritten cookie)
        self.query: bytes | None = None  # a rewritten query string for the upstream; None = as received
        self._headers: dict[bytes, bytes] | None = None
        self.version: str | None = None  # the version a versioned API was asked for (or its default)
        self.upstream_path: bytes | None = None  # a rewritten raw path (version stripped); None = as received
        self.api_expires: bytes | None = None  # x-tyk-api-expires for the client, in either header mode
        # (count, seconds to reset) when the rate limit step already counted the quota in its round trip
        self.quota_counted: tuple[int, float] | None = None
        self.quota_live: tuple[int, int] | None = None  # (remaining, renews) once KeyQuota counted

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
            body = await _read_capped(receive, cap) if receive is not None else b""
            wire = base64.b64encode(encode_request(self.scope, body)).decode()
        fire = bus.fire
        for (event, meta), want in zip(self.pending, wanted, strict=True):
            if want:
                meta = dataclasses.replace(meta, originating_request=wire)
            fire(EventMessage(event, meta, self.spec.api_id, self.spec.org_id))
        self.pending.clear()


def encode_request(scope: Scope, body: bytes) -> bytes:
    """Go's HTTP/1.1 client wire form of the request (Tyk's OriginatingRequest, before base64)."""
    target = scope.get("raw_path") or scope["path"].encode()
    if scope.get("query_string"):
        target += b"?" + scope["query_string"]
    headers: dict[bytes, list[bytes]] = {}
    for k, v in scope["headers"]:
        headers.setdefault(k, []).append(v)
    host = (headers.pop(b"host", None) or [b""])[0]
    agent = (headers.pop(b"user-agent", None) or [b"Go-http-client/1.1"])[0]
    headers.pop(b"content-length", None)
    headers.pop(b"transfer-encoding", None)
    lines = [
        scope["method"].encode() + b" " + target + b" HTTP/1.1",
        b"Host: " + host,
        b"User-Agent: " + agent,
    ]
    if body:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    for name in sorted(headers, key=_canonical):
        lines.extend(_canonical(name) + b": " + v for v in headers[name])
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _canonical(name: bytes) -> bytes:
    return b"-".join(part[:1].upper() + part[1:] for part in name.split(b"-"))


async def _read_capped(receive: Receive | None, cap: int) -> bytes:
    if receive is None:
        return b""
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        msg = await receive()
        if msg["type"] != "http.request":
            break
        chunk = msg.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)[:cap]


def _valid_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


__all__ = ["RequestContext", "Services", "encode_request"]
