"""Each store backend brings its outbox, chosen by the backend's name: a file beside the embedded store,
a Stream on Redis, memory with `events.outbox` off, and a backend with none refused by name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gateway.config.model import from_dict
from gateway.delivery.outbox_file import FileOutbox
from gateway.delivery.outbox_memory import MemoryOutbox
from gateway.delivery.outbox_redis import RedisOutbox
from gateway.delivery.outboxes import consumer_name, open_outbox
from gateway.errors import ConfigError
from gateway.store.memory import MemoryStore
from gateway.store.registry import open_store


async def test_the_embedded_store_brings_a_file_and_redis_a_stream(tmp_path: Path, redis_flush: Any) -> None:
    embedded = from_dict({"secret": "s"}, base_dir=tmp_path, environ={})
    store = open_store(embedded.storage)
    outbox = open_outbox(embedded, store)
    assert isinstance(outbox, FileOutbox)
    await outbox.close()
    await store.close()
    storage = {"type": "redis", "host": redis_flush.host, "port": redis_flush.port}
    redis = from_dict({"secret": "s", "storage": storage, "listen_port": 8181}, base_dir=tmp_path, environ={})
    store = open_store(redis.storage)
    outbox = open_outbox(redis, store)
    assert isinstance(outbox, RedisOutbox)
    assert consumer_name(redis).endswith(":8181")  # host:port unless events.outbox_consumer names one
    await outbox.close()
    await store.close()


async def test_outbox_off_is_memory_and_a_backend_without_one_is_refused(tmp_path: Path) -> None:
    off = from_dict({"events": {"outbox": False}}, base_dir=tmp_path, environ={})
    store = MemoryStore(tmp_path / "data")
    assert isinstance(open_outbox(off, store), MemoryOutbox)

    class Elsewhere(MemoryStore):
        name = "elsewhere"

    other = Elsewhere(tmp_path / "other")
    with pytest.raises(
        ConfigError, match=re.escape("'elsewhere' brings no webhook outbox; set \"events.outbox\"")
    ):
        open_outbox(from_dict({}, base_dir=tmp_path, environ={}), other)
    await store.close()
    await other.close()
