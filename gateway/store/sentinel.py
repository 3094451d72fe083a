"""The Sentinel master (`storage.master_name`), found through the sentinels at `storage.addrs` and watched:
on a failover (`+switch-master`, or a check every 5 s) every connection to the old master is dropped, the
pool's and the hot path's, so nothing keeps writing to a master being demoted (it accepts writes until
reconfigured). It never chooses a master: the sentinels do."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, SSLConnection
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection
from redis.exceptions import RedisError

from gateway.log import get_logger
from gateway.tasks import cancel_and_wait

log = get_logger("store.sentinel")

CHANNEL = "+switch-master"  # Sentinel's: "<name> <old ip> <old port> <new ip> <new port>"
CHECK_EVERY = 5.0  # seconds between asking the sentinels anyway


class _BlockingSentinelPool(SentinelConnectionPool, BlockingConnectionPool):
    """Sentinel's pool, waiting for a free connection past max_connections (as the single-server pool
    does, and Tyk's) instead of failing at once under a burst."""

    current: tuple[str, int] | None = None  # the master as the watcher last saw it


class _MasterConnection(SentinelManagedConnection):
    """A pooled connection that, each time it is taken from the pool, checks it is still to the master
    the watcher last saw: one made to the old master while the switch was being handled is made again."""

    async def _connect_retry(self) -> None:
        current = self.connection_pool.current
        if self._reader is not None and current is not None and (self.host, self.port) != current:
            await self.disconnect()
        await super()._connect_retry()  # type: ignore[no-untyped-call]


class _MasterSSLConnection(_MasterConnection, SSLConnection):
    pass


class SentinelMaster:
    def __init__(
        self, name: str, sentinels: list[tuple[str, int]], password: str, pool_options: dict[str, Any]
    ) -> None:
        self.name = name
        # The sentinels get the same timeouts and TLS as the servers, but their own password (Tyk's
        # sentinel_password) and no ACL user; the servers' pool keeps username and password.
        own = ("socket_timeout", "socket_connect_timeout", "decode_responses")
        options = {k: v for k, v in pool_options.items() if k.startswith("ssl") or k in own}
        self.sentinel = Sentinel(sentinels, sentinel_kwargs={**options, "password": password or None})
        kind = _MasterSSLConnection if pool_options.get("ssl") else _MasterConnection
        self.pool = _BlockingSentinelPool(name, self.sentinel, connection_class=kind, **pool_options)  # type: ignore[no-untyped-call]
        self._known: tuple[str, int] | None = None
        self.switches = 0  # master switches seen
        self._switched: list[Callable[[], Awaitable[None]]] = []
        self._watch: asyncio.Task[None] | None = None

    def is_current(self, host: str, port: int) -> bool:
        """Whether host:port is the master as last seen (True before anyone has asked)."""
        return self._known is None or (host, port) == self._known

    def on_switch(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Also run `callback` when the master moves (the hot path's connection is closed by it)."""
        self._switched.append(callback)

    async def address(self) -> tuple[str, int]:
        """The master now, as the sentinels say: the hot path asks before every (re)connect."""
        self.start()
        return await self._check()

    def start(self) -> None:
        """Watch for failovers (started by the store, or by the first command if it was built before
        the event loop ran)."""
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._run(), name="sentinel-watch")

    async def close(self) -> None:
        task, self._watch = self._watch, None
        await cancel_and_wait(task)
        for client in self.sentinel.sentinels:
            await client.aclose()
        await self.pool.aclose()

    async def _run(self) -> None:
        turn, delay = 0, 0.1
        while True:
            client = self.sentinel.sentinels[turn % len(self.sentinel.sentinels)]
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                await self._check()  # a switch may have happened while we were not listening
                delay = 0.1
                loop = asyncio.get_running_loop()
                next_check = loop.time() + CHECK_EVERY
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    mine = message is not None and str(message["data"]).split(" ")[0] == self.name
                    if mine or loop.time() >= next_check:
                        await self._check()
                        next_check = loop.time() + CHECK_EVERY
            except (RedisError, OSError) as exc:
                where = client.connection_pool.connection_kwargs
                log.warning(
                    "sentinel %s:%s: watching for failovers failed (%s); retrying",
                    where.get("host"),
                    where.get("port"),
                    exc,
                )
                turn += 1
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()
            await asyncio.sleep(delay)  # backoff between sentinels, not a wait for a result
            delay = min(delay * 2, 2.0)

    async def _check(self) -> tuple[str, int]:
        """Ask the sentinels; on a new master, drop every connection to the old one. Whoever notices
        first (the watcher, or the hot path reconnecting) does it, so no pooled connection is missed."""
        host, port = await self.sentinel.discover_master(self.name)
        found = (str(host), int(port))
        known, self._known = self._known, found
        self.pool.current = found
        if known is not None and found != known:
            log.warning("redis sentinel %s: master moved from %s:%d to %s:%d", self.name, *known, *found)
            self.switches += 1
            # Connections in use too: a command on the old master would write to a server being demoted.
            # One still being made to it is made again when next taken from the pool.
            await self.pool.disconnect(inuse_connections=True)
            for callback in self._switched:
                await callback()
        return found
