"""The Handler protocol and what a handler may use, built once per API load.

A handler is constructed by `from_meta` when its API loads (all validation happens there, raising
ConfigError with the API and JSON path) and later runs `handle` in a bus worker. It must never be
constructed or validated at fire time, and never touches the request path.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from gateway.delivery.model import RetryPolicy, Submitter
from gateway.events.catalog import EventMessage
from gateway.outbound import Outbound
from gateway.store.base import Store


@dataclass(frozen=True, slots=True)
class HandlerDeps:
    """Everything a handler may need, shared by every handler of a gateway."""

    store: Store
    http: httpx.AsyncClient  # webhook client: no redirects, bounded timeout
    template_dir: str  # tyk.conf template_path (default_webhook.json lives here)
    middleware_dir: str  # tyk.conf middleware_path (custom handler scripts)
    config_dir: str  # relative template paths resolve here, then against the working directory
    enable_key_logging: bool = False
    deliveries: Submitter | None = None  # the Deliverer; None sends once, in the bus worker (unit tests)
    retry: RetryPolicy = field(
        default_factory=RetryPolicy
    )  # tyk.conf events.retry_* defaults; handlers may override
    redact_payload_keys: bool = False  # events.redact_keys_in_payloads
    # TykGetKeyData / TykSetKeyData for JavaScript handlers: (function, string args) -> result.
    key_rpc: Callable[[str, list[str]], Awaitable[Any]] | None = None
    # Events handlers chose not to send, by reason ("deduplicated": a webhook's cooldown), for the stats.
    skipped: Counter[str] = field(default_factory=Counter)
    # tyk.conf `outbound`: a webhook target it refuses by itself is refused at load (`http` applies it
    # to every connection; the default here is the default policy).
    outbound: Outbound = field(default_factory=Outbound)


@dataclass(frozen=True, slots=True)
class HandlerScope:
    """The API a handler belongs to ("" for gateway-level handlers from tyk.conf)."""

    api_id: str = ""
    org_id: str = ""
    where: str = "tyk.conf event_handlers"  # JSON path prefix for errors, e.g. "apps/a.json $.event_handlers"


class Handler(Protocol):
    """A handler may also say `reads_request = False` when it provably never reads the event's
    originating request (a webhook whose template does not): events then skip serialising it."""

    kind: str  # Tyk's Classic handler_name

    async def handle(self, msg: EventMessage) -> None: ...


class HandlerFactory(Protocol):
    def __call__(self, meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> Handler: ...
