"""The store registry: `storage.type` -> backend, and `open_store`, how the gateway opens its store.

A new backend is a module in this package plus one line in BACKENDS, its name in tyk.conf's choices
(config/check.py) and the store tests' fixtures (docs/architecture.md, recipes). Nothing here talks to
a backend beyond constructing it.
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.config.model import StorageConfig
from gateway.errors import ConfigError
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.redis import RedisStore


def _embedded(cfg: StorageConfig) -> Store:
    return MemoryStore(cfg.path, accept_loss=cfg.accept_journal_loss)


BACKENDS: dict[str, Callable[[StorageConfig], Store]] = {
    "embedded": _embedded,
    "redis": RedisStore,
}


def open_store(cfg: StorageConfig) -> Store:
    """The configured backend, opened. The embedded store replays its journal from `cfg.path`
    (resolved against the config file's folder by `config.load`) and raises StoreError if it cannot;
    the Redis store connects on first use.
    """
    factory = BACKENDS.get(cfg.type)
    if factory is None:
        expected = list(BACKENDS)
        raise ConfigError("tyk.conf", f'key "storage.type": expected one of {expected}, got {cfg.type!r}')
    return factory(cfg)
