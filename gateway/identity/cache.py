"""The local session cache (Tyk's `local_session_cache`), for the Redis store: a request finds its
key's stored text in the process instead of a round trip, for at most `cached_session_timeout` seconds.

Every write made through any gateway drops the entry everywhere at once: the writer publishes the
changed names and each gateway's listener drops them. While the subscription is down the cache is not
used, and it is emptied when the subscription comes back, since drops may have been missed. It holds
stored text only; parsing and naming stay in `sessions`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from gateway.config.model import Config
from gateway.errors import StoreError
from gateway.log import get_logger
from gateway.store.base import PubSub, Store

log = get_logger("sessions")

CHANNEL = "gateway.sessions.changed"  # a wire name: every gateway on the Redis must agree on it
MAX_ENTRIES = 100_000  # bounds memory when clients send many unknown keys (absences are cached too)
MISS = object()


class SessionCache:
    def __init__(self, notifier: PubSub, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._notifier = notifier
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[str | None, float]] = {}
        self.live = False  # subscribed: only then may an entry be trusted
        # Bumped by every drop: a read that started before a drop must not store what it read.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None

    def lookup(self, name: str) -> object:
        """The cached text (None: known absent), or MISS."""
        found = self._entries.get(name)
        if found is None or found[1] < self._clock():
            return MISS
        return found[0]

    def put(self, name: str, text: str | None, generation: int) -> None:
        if generation != self.generation or not self.live:
            return
        if len(self._entries) >= MAX_ENTRIES:
            del self._entries[next(iter(self._entries))]  # the oldest entry
        self._entries[name] = (text, self._clock() + self._ttl)

    async def changed(self, *names: str) -> None:
        """A write through this gateway: drop here now, and everywhere else through the store."""
        self._drop(names)
        try:
            await self._notifier.publish(CHANNEL, json.dumps(names))
        except StoreError as exc:
            # The write itself succeeded; other gateways may serve the old session until its entry expires.
            log.warning("could not tell other gateways about a changed session: %s", exc)

    def start(self) -> None:
        listen: Coroutine[Any, Any, None] = self._notifier.listen(CHANNEL, self._heard, self._state)
        self._task = asyncio.create_task(listen, name="session-cache")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._state(False)

    def _heard(self, message: str) -> None:
        try:
            names = json.loads(message)
        except ValueError:
            names = None
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            self._drop(names)
        else:  # not ours to understand: forget everything rather than keep something stale
            self._drop(list(self._entries))

    def _state(self, live: bool) -> None:
        self.live = live
        self._drop(list(self._entries))

    def _drop(self, names: list[str] | tuple[str, ...]) -> None:
        self.generation += 1
        for name in names:
            self._entries.pop(name, None)


def for_store(config: Config, store: Store) -> SessionCache | None:
    """A cache when the store is shared and can publish (Redis) and tyk.conf does not turn it off."""
    settings = config.local_session_cache
    if settings.disable_cached_session_state or settings.cached_session_timeout <= 0:
        return None
    pubsub = store.pubsub()
    return SessionCache(pubsub, settings.cached_session_timeout) if pubsub is not None else None
