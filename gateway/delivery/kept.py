"""The last deliveries this gateway accepted, whole, by id: what a resend sends again.

The delivery log (history.py) holds attempts without bodies; a resend needs the rendered request, so
the Deliverer keeps the last N here as it accepts them, bounded by count and by body bytes. In memory
only, per process, like the delivery log; nothing here is written, logged or shown. No I/O.
"""

from __future__ import annotations

from collections import OrderedDict

from gateway.delivery.model import Delivery

KEPT = 500  # deliveries
KEPT_BYTES = 16 * 1024 * 1024  # their bodies together: a few huge templates must not hold memory


class KeptDeliveries:
    def __init__(self, size: int = KEPT, max_bytes: int = KEPT_BYTES) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._by_id: OrderedDict[str, Delivery] = OrderedDict()

    def keep(self, delivery: Delivery) -> None:
        """Remember it (a resend of the same id replaces the earlier one); the oldest go past the bounds."""
        old = self._by_id.pop(delivery.id, None)
        if old is not None:
            self._bytes -= len(old.body)
        if self._size <= 0 or len(delivery.body) > self._max_bytes:
            return
        self._by_id[delivery.id] = delivery
        self._bytes += len(delivery.body)
        while len(self._by_id) > self._size or self._bytes > self._max_bytes:
            _, dropped = self._by_id.popitem(last=False)
            self._bytes -= len(dropped.body)

    def get(self, delivery_id: str) -> Delivery | None:
        return self._by_id.get(delivery_id)

    def __len__(self) -> int:
        return len(self._by_id)
