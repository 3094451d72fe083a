"""Which durable outbox each store backend brings: a file beside the embedded store's journal, a Stream
and consumer group on Redis (on the store's own connection). The one owner of that choice.

The choice is by the backend's name (`Store.name`, what `storage.type` says), never by its class, and a
backend with no outbox here is refused by name rather than given a file outbox it cannot share. It must
not deliver anything: the Deliverer drains what it opens.
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from gateway.config.model import Config
from gateway.delivery.model import Outbox
from gateway.delivery.outbox_file import FileOutbox
from gateway.delivery.outbox_memory import MemoryOutbox
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.record import RecordCodec
from gateway.errors import ConfigError
from gateway.store.base import Store
from gateway.store.redis import RedisStore


def _file(config: Config, store: Store, codec: RecordCodec) -> Outbox:
    return FileOutbox(config.storage.path, codec, accept_loss=config.storage.accept_journal_loss)


def _stream(config: Config, store: Store, codec: RecordCodec) -> Outbox:
    assert isinstance(store, RedisStore)  # registered under its name; the stream needs its connection
    events = config.events
    consumer = consumer_name(config)
    return RedisOutbox(
        store.client,
        codec,
        consumer,
        claim_idle=events.outbox_claim_idle,
        timeout=store.timeout,
        failovers=lambda: store.failovers,
        address=store.address,
    )


OUTBOXES: dict[str, Callable[[Config, Store, RecordCodec], Outbox]] = {
    "embedded": _file,
    "redis": _stream,
}


def open_outbox(config: Config, store: Store) -> Outbox:
    """The store's outbox, or memory only with `events.outbox` false."""
    if not config.events.outbox:
        return MemoryOutbox()
    factory = OUTBOXES.get(store.name)
    if factory is None:
        raise ConfigError(
            "tyk.conf",
            f'key "storage.type": {store.name!r} brings no webhook outbox; set "events.outbox" to false '
            "or add one to delivery/outboxes.py",
        )
    return factory(config, store, RecordCodec(config.secret))


def consumer_name(config: Config) -> str:
    """This gateway's name in the outbox's consumer group: stable across restarts, so a restarted
    gateway finds the deliveries it had taken (`events.outbox_consumer`, else host:port)."""
    return config.events.outbox_consumer or f"{socket.gethostname()}:{config.listen_port}"
