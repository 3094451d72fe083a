"""What operators ask of the webhooks the handler layer holds, through the REST API and the Dashboard: a
test event to a global webhook, the Ed25519 public keys of the loaded handlers, and kept events replayed
to a global webhook added after they fired.

Each builds handlers as app/event_side.py does and hands deliveries to its Deliverer; nothing here is on
the request path or decides when an event fires.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from gateway.delivery import options, signing, trial
from gateway.delivery.events_kept import Catch
from gateway.delivery.history import Filter
from gateway.delivery.model import Delivery
from gateway.delivery.replay import Replayed
from gateway.errors import ConfigError
from gateway.events import kept as event_kept
from gateway.handlers import global_webhooks, sample
from gateway.handlers.base import HandlerScope
from gateway.handlers.webhook import WebhookHandler
from gateway.log import get_logger

if TYPE_CHECKING:
    from gateway.app.event_side import HandlerLayer

log = get_logger("app")


async def _global(layer: HandlerLayer, webhook_id: str) -> dict[str, Any]:
    """The global webhook's definition (tyk.conf's or the store's); KeyError when there is none."""
    return (await global_webhooks.all_webhooks(layer.store, layer.configured_webhooks))[webhook_id]


async def test_webhook(layer: HandlerLayer, webhook_id: str) -> dict[str, Any]:
    """One attempt now of a sample event to this global webhook (KeyError when there is none): a
    definition its handler refuses, or a target the outbound policy refuses, is an error, not sent."""
    webhook = await _global(layer, webhook_id)
    try:
        delivery = await sample.render(webhook, layer.deps, f"webhook {webhook_id!r}")
    except ConfigError as exc:
        return {"status": None, "error": str(exc), "latency_ms": 0.0}
    return await trial.attempt(layer.http, delivery)


async def signing_keys(layer: HandlerLayer) -> list[dict[str, str]]:
    """The Ed25519 public keys (`whpk_`) of every loaded webhook handler and global webhook with a
    `whsk_` secret key; never a secret."""
    found: dict[tuple[str, ...], dict[str, str]] = {}
    for (api_id, event), handlers in layer.table.items():
        for h in (h for h in handlers if isinstance(h, WebhookHandler)):
            for secret in h.secrets:
                if (public := signing.public_key(secret)) is not None:
                    row = {"api_id": api_id, "event": event, "handler": h.name, "public_key": public}
                    found[tuple(row.values())] = row
    webhooks = await global_webhooks.all_webhooks(layer.store, layer.configured_webhooks)
    for webhook_id, webhook in webhooks.items():
        try:
            secrets = options.signing_secrets(webhook, webhook_id)
        except ConfigError:  # refused wherever it is used; it has no key to publish
            continue
        for secret in secrets:
            if (public := signing.public_key(secret)) is not None:
                row = {"webhook_id": webhook_id, "public_key": public}
                found[tuple(row.values())] = row
    return list(found.values())


async def replay_events(
    layer: HandlerLayer, webhook_id: str, want: Filter, request_id: str
) -> dict[str, Any]:
    """Kept events rendered by this global webhook (KeyError when there is none; ConfigError for a
    definition its handler refuses) and submitted, each under a webhook-id fixed per event."""
    webhook = await _global(layer, webhook_id)
    catch = Catch()  # no cooldown: a replay of identical events sends each
    deps = dataclasses.replace(layer.deps, deliveries=catch)
    scope = HandlerScope(where=f"webhook {webhook_id!r}")
    handler = WebhookHandler.from_meta({**webhook, "event_timeout": 0}, scope, deps)

    async def render(kept: dict[str, Any]) -> Delivery | None:
        catch.caught = None
        try:
            await handler.handle(event_kept.message(kept))
        except ValueError as exc:
            log.warning("kept event %s not replayed: %s", kept.get("id"), exc)
        return catch.caught

    if layer.kept_events is None:
        return Replayed().to_json()
    args = (layer.deliverer, layer.store, layer.config.events.retention)
    return (await layer.kept_events.replay(render, webhook_id, want, request_id, *args)).to_json()
