"""The local session cache (Tyk's `local_session_cache`), for the Redis store: a request finds its
key's stored text in the process instead of a round trip, for at most `cached_session_timeout` seconds.

Every write made through any gateway drops the entry everywhere at once: the writer publishes the
changed names and each gateway's listener drops them. While the subscription is down the cache is not
used, and it is emptied when the subscription comes back, since drops may have been missed. With a
`grace` (store_outage_grace, failing open) a read the store fails gets the entry as last known, expired
or not, for `grace` seconds from the outage's start; meanwhile every read asks the store first, and its
first answer empties the cache. It holds stored text only; parsing and naming stay in `sessions`.
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
from gateway.tasks import cancel_and_wait

log = get_logger("sessions")

CHANNEL = "gateway.sessions.changed"  # a wire name: every gateway on the Redis must agree on it
MAX_ENTRIES = 100_000  # bounds memory when clients send many unknown keys (absences are cached too)
MISS = object()


class SessionCache:
    def __init__(
        self,
        notifier: PubSub,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        grace: float = 0.0,
    ) -> None:
        self._notifier = notifier
        self._ttl = ttl
        self._clock = clock
        # Expired entries stay until replaced or evicted: they are what an outage falls back on.
        self._entries: dict[str, tuple[str | None, float]] = {}
        # Subscribed and no outage under way: only then may an entry be trusted (one check per read).
        self.live = False
        self._subscribed = False
        # Bumped by every drop: a read that started before a drop must not store what it read.
        self.generation = 0
        self._task: asyncio.Task[None] | None = None
        self.grace = grace  # seconds of an outage served from last known entries; 0: none
        self.outage_since: float | None = None  # when the store (or the subscription) first failed
        self._said = ""  # what this outage has been logged as: once each, not once per request

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

    def last_known(self, name: str, exc: StoreError) -> str | None:
        """The store failed reading `name`: its text as last known while the outage is in its grace, or
        `exc` raised (no grace, an unknown name, or the grace spent). None: known to be absent."""
        if self.grace <= 0:
            raise exc
        if self.outage_since is None:
            # Until the store answers every read asks it, so its return is seen at the first request.
            self.outage_since, self.live = self._clock(), False
        if self._since() > self.grace:
            self._say("spent", "store outage past store_outage_grace (%g s): known keys refused too", exc)
            raise exc
        self._say("serving", "store unavailable: known keys served as last read for %g s", exc)
        found = self._entries.get(name)
        if found is None:
            raise exc
        return found[0]

    def recovered(self) -> None:
        """The store answered after an outage: what it changed meanwhile was never heard, so forget all."""
        log.warning("store answering again after %.1f s: session cache emptied", self._since())
        self.outage_since, self._said, self.live = None, "", self._subscribed
        self._drop(list(self._entries))

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
        await cancel_and_wait(task)
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
        self.live = self._subscribed = live
        if not live and self.grace > 0:
            # Entries are kept, unused while down, as the outage's fallback; the grace starts now.
            if self.outage_since is None:
                self.outage_since = self._clock()
            return
        self.outage_since, self._said = None, ""
        self._drop(list(self._entries))

    def _since(self) -> float:
        return 0.0 if self.outage_since is None else self._clock() - self.outage_since

    def _say(self, phase: str, message: str, exc: StoreError) -> None:
        if self._said != phase:
            self._said = phase
            log.warning(message + ": %s", self.grace, exc)

    def _drop(self, names: list[str] | tuple[str, ...]) -> None:
        self.generation += 1
        for name in names:
            self._entries.pop(name, None)


def for_store(config: Config, store: Store) -> SessionCache | None:
    """A cache when the store is shared and can publish (Redis) and tyk.conf does not turn it off. Only
    failing open serves last known sessions through an outage: closed refuses what it cannot check."""
    settings = config.local_session_cache
    if settings.disable_cached_session_state or settings.cached_session_timeout <= 0:
        return None
    pubsub = store.pubsub()
    if pubsub is None:
        return None
    grace = config.store_outage_grace if config.store_failure_policy == "open" else 0.0
    return SessionCache(pubsub, settings.cached_session_timeout, grace=grace)
