"""The gateway's own delivery events wired to the bus: what the Sender reports (a Notice: a delivery given
up, an endpoint paused or resumed) fired as the catalogue's event with its meta.

Delivery must not import the event side, so this is the one place the two meet. It never blocks and never
decides when an event fires: the Sender and its gate do.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.delivery.targets import Notice
from gateway.events.catalog import META_TYPES, Event, EventMessage
from gateway.log import get_logger

log = get_logger("app")


def firer(fire: Callable[[EventMessage], int]) -> Callable[[Notice], None]:
    """The Sender's `fire`: the notice as an EventMessage on the bus (which queues it, or drops and counts
    it when full)."""

    def fire_notice(notice: Notice) -> None:
        try:
            event = Event(notice.event)
            meta = META_TYPES[event](**notice.fields)
        except (KeyError, TypeError, ValueError):  # a mismatch is a bug here, never a reason to stop sending
            log.exception("cannot fire %s", notice.event)
            return
        fire(EventMessage(event, meta, api_id=notice.api_id))

    return fire_notice
