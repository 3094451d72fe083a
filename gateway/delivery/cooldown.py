"""Tyk's webhook cooldown, made atomic: the one owner of reserving and releasing `webhook.cache.<md5>`.

A reservation is taken with SET NX PX before a delivery is sent, across every worker and gateway on the
store, and holds the delivery's id; releasing is a compare-and-delete, so a delivery that finally fails
frees only its own reservation, never a newer event's. It must not send anything or decide what is sent.
"""

from __future__ import annotations

from gateway.errors import StoreError
from gateway.log import Throttle, get_logger
from gateway.store.base import Store

log = get_logger("delivery")

PREFIX = "webhook.cache."  # Tyk's key, so a Tyk gateway and this one on one Redis share cooldowns
# A store outage fails every release: one line per 10 s says so, not one per delivery given up.
_RELEASE_LOG = Throttle(10.0)


def key(checksum: str) -> str:
    return PREFIX + checksum


async def reserve(store: Store, reservation: str, holder: str, seconds: int) -> bool:
    """True when `holder` now holds the cooldown; False while another delivery does. StoreError is the
    caller's: without the store the cooldown cannot be kept, and whether to send anyway is its choice."""
    return await store.set_nx(reservation, holder, seconds * 1000)


async def release(store: Store, reservation: str, holder: str) -> None:
    """Free the cooldown so a later identical event can go, unless a newer delivery holds it now."""
    try:
        await store.release(reservation, holder)
    except StoreError as exc:  # it expires by itself; a later event is suppressed until then
        held_back = _RELEASE_LOG.allow_count("release")
        if held_back is not None:
            log.warning(
                "webhook cooldown %s not released: %s (%d more since the last such line)",
                reservation,
                exc,
                held_back,
            )
