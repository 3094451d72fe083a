"""What the Gateway REST API needs from the running gateway, as a Protocol the composition root meets.

Kept to the minimum the endpoints use, so the admin package can be built on a test gateway. It must
not grow into a handle on everything: the request path's services are none of the admin API's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gateway.apidef.model import APISpec
from gateway.certs.store import CertStore
from gateway.config.model import Config
from gateway.delivery.history import DeliveryLog, Filter
from gateway.events.catalog import Event, EventMeta
from gateway.events.live import LiveFeed
from gateway.identity.sessions import SessionStore
from gateway.store.base import Store


class AdminGateway(Protocol):
    @property
    def config(self) -> Config: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def store(self) -> Store: ...

    @property
    def cert_store(self) -> CertStore: ...

    @property
    def delivery_log(self) -> DeliveryLog:
        """The last webhook attempts this gateway made (GET /tyk/webhooks/deliveries)."""
        ...

    @property
    def live(self) -> LiveFeed:
        """The events fired lately, and each new one as it fires (the Dashboard's live view)."""
        ...

    def webhook_endpoints(self) -> list[dict[str, Any]]:
        """Every webhook target this process sends to, with its state (GET /tyk/webhooks/endpoints)."""
        ...

    async def resend(self, delivery_id: str) -> bool:
        """Accept a delivery of the log again (same webhook-id, new attempts); False if no longer kept."""
        ...

    async def resend_matching(self, want: Filter, request_id: str) -> dict[str, Any]:
        """Bulk resend of the deliveries whose newest attempt matches, idempotent per request id:
        {"status", "resent", "ids", "missing", "next"}."""
        ...

    async def kept_events(self, want: Filter) -> tuple[list[dict[str, Any]], str | None]:
        """Accepted events kept (`events.retention`), newest first, and the cursor of the next page."""
        ...

    async def replay_events(self, webhook_id: str, want: Filter, request_id: str) -> dict[str, Any]:
        """Kept events rendered by a global webhook and submitted, idempotent per request id; KeyError
        when there is no such webhook, ConfigError for one its handler refuses."""
        ...

    async def signing_keys(self) -> list[dict[str, str]]:
        """The Ed25519 public keys (`whpk_`) of the loaded webhook handlers and global webhooks that sign
        with a `whsk_` secret key (GET /tyk/webhooks/signing-keys); never a secret."""
        ...

    async def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        """One attempt now of a sample event to a global webhook: {"status", "error", "latency_ms"};
        KeyError when there is no such webhook."""
        ...

    def event_stats(self) -> dict[str, Any]:
        """Counts since start: events fired, dropped, handled, failed; webhooks by outcome."""
        ...

    def fire_system(self, event: Event, meta: EventMeta) -> None:
        """Fire a gateway-level event (TokenCreated, ...); never blocks on delivery."""
        ...

    async def reload(self) -> None:
        """Load app_path again and swap in the new routing table."""
        ...

    def invalidate_jwks(self, api_id: str | None) -> None:
        """Drop the JWKS keys cached for this API, or for every API with None."""
        ...

    async def reload_group(self) -> None:
        """Reload, and have every other gateway on the shared store reload too."""
        ...

    @property
    def configured_webhooks(self) -> Mapping[str, dict[str, Any]]:
        """tyk.conf `webhooks` by id (read-only through the REST API)."""
        ...

    def check_webhook(self, raw: Any, where: str) -> dict[str, Any]:
        """A global webhook definition checked as its handler would be built; ConfigError if not."""
        ...

    async def check_api(self, spec: APISpec) -> None:
        """Refused for what a load would refuse the API for: a webhook template outside template_path, an
        address the outbound policy denies (webhook targets, uptime checks, JWKS, the token URL)."""
        ...

    def specs(self) -> Sequence[APISpec]:
        """The API definitions currently loaded (served or inactive)."""
        ...
