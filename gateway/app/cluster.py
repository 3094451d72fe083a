"""Group reloads (Tyk's `/tyk/reload/group`): a gateway on a shared store reloads and tells every other
gateway on it (the worker processes of one gateway included) to reload too, through the store's pub/sub.

It owns the channel, the listener and the coalescing of notices; the reload itself is the caller's.
On the embedded store there is no one else to tell: a group reload is a reload.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

from gateway.errors import ConfigError, StoreError
from gateway.log import get_logger
from gateway.store.base import Store
from gateway.tasks import cancel_and_wait

log = get_logger("cluster")

CHANNEL = "gateway.reload"


class GroupReload:
    def __init__(self, store: Store, reload: Callable[[], Awaitable[None]]) -> None:
        self._notifier = store.pubsub()
        self._reload = reload
        self._me = os.urandom(8).hex()  # our own notices come back to us: they are skipped
        self._listener: asyncio.Task[None] | None = None
        self._pending: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._notifier is not None:
            listen = self._notifier.listen(CHANNEL, self._heard, lambda _live: None)
            self._listener = asyncio.create_task(listen, name="group-reload")

    async def stop(self) -> None:
        await cancel_and_wait(self._listener, self._pending)
        self._listener = self._pending = None

    async def request(self) -> None:
        """Reload here (ConfigError if that fails), then tell the others."""
        await self._reload()
        if self._notifier is not None:
            try:
                await self._notifier.publish(CHANNEL, self._me)
            except StoreError as exc:
                log.warning("reloaded here, but could not tell the other gateways: %s", exc)

    def _heard(self, sender: str) -> None:
        # Notices arriving while a reload is still to start are one reload: it will read the latest files.
        if sender == self._me or (self._pending is not None and not self._pending.done()):
            return
        self._pending = asyncio.create_task(self._reload_logged(), name="group-reload-run")

    async def _reload_logged(self) -> None:
        try:
            await self._reload()
        except (ConfigError, StoreError) as exc:
            log.error("group reload failed: %s", exc)
