"""A sample event (RatelimitExceeded unless asked for another: events/schemas.py has a sample meta of
every type) rendered for a webhook as its handler renders a real one (the test event).

The handler is built from the definition with every check of a load (ConfigError; Refused for a target
the outbound policy denies as written), without its cooldown, handed a Submitter that only catches the
Delivery. Nothing is sent, reserved or counted here: delivery/trial.py makes the one attempt.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gateway.delivery.model import Delivery
from gateway.errors import RATE_LIMIT_EXCEEDED
from gateway.events.catalog import Event, EventMessage
from gateway.events.schemas import sample_meta
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.handlers.webhook import WebhookHandler

SAMPLE_EVENT = Event.RatelimitExceeded
SAMPLE_API = "sample-api"


def sample_event(event: Event = SAMPLE_EVENT) -> EventMessage:
    """A RatelimitExceeded as a keyed request past its rate would fire it (path `/sample/path`, origin
    203.0.113.10, key `sample-key-0000`: not a real one), or a sample of another event, fired now."""
    overrides = {"Message": RATE_LIMIT_EXCEEDED} if event is Event.RatelimitExceeded else {}
    return EventMessage(event, sample_meta(event, overrides), SAMPLE_API)


class _Catch:
    def __init__(self) -> None:
        self.caught: Delivery | None = None

    async def submit(self, delivery: Delivery) -> None:
        self.caught = delivery


async def render(
    webhook: Mapping[str, Any], deps: HandlerDeps, where: str, event: Event = SAMPLE_EVENT
) -> Delivery:
    """The Delivery a webhook's handler would submit for the sample event."""
    catch = _Catch()
    handler = WebhookHandler.from_meta(
        {**webhook, "event_timeout": 0},
        HandlerScope(where=where),
        dataclasses.replace(deps, deliveries=catch),
    )
    await handler.handle(sample_event(event))
    if catch.caught is None:  # only a cooldown holds a delivery back, and it is off
        raise RuntimeError(f"{where}: the webhook rendered nothing")
    return catch.caught
