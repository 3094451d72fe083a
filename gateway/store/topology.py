"""How the Redis store reaches Redis: one server, Sentinel (`storage.master_name`) or Cluster
(`storage.enable_cluster`), at `storage.addrs`, over TLS with `use_ssl`. Builds, per topology, the redis-py
client, the hot-path caller (resp.py's pipelined connection; on a cluster, one per node: routed.py) and
the `limits` storage on that client. It sends no command; RedisStore turns errors into StoreError.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any, Protocol, cast

import redis.asyncio as aioredis
from limits.aio.storage import RedisStorage
from limits.aio.storage.redis.redispy import RedispyBridge
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from gateway.config.storage import StorageConfig
from gateway.errors import ConfigError
from gateway.store.resp import RespClient
from gateway.store.routed import ClusterCalls
from gateway.store.sentinel import SentinelMaster

DEFAULT_TIMEOUT = 5.0
_TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1, "1.3": ssl.TLSVersion.TLSv1_3}


class Calls(Protocol):
    """The request path's commands (GET, SET NX, the scripts): one command, or one script by digest."""

    async def call(self, *args: Any) -> Any: ...

    async def evalsha(self, script: str, digest: str, keys: list[str], args: list[Any]) -> Any: ...

    async def close(self) -> None: ...


class LimitsStorage(RedisStorage):
    """`limits`' moving-window storage riding the store's own client (its pool, credentials, TLS and
    topology). `clustered` tells the Limiter to keep a key's window in its quota counter's slot."""

    def __init__(self, client: aioredis.Redis | RedisCluster, *, clustered: bool) -> None:
        self._shared = client
        self.clustered = clustered
        # The URI only picks limits' redis-py bridge: configure_bridge replaces the client it names.
        super().__init__("async+redis://localhost:6379/0", implementation="redispy")

    def configure_bridge(self) -> None:
        # limits types the client as its own protocol, which RedisCluster satisfies only at run time.
        bridge, client = cast("RedispyBridge", self.bridge), cast("Any", self._shared)
        bridge.storage = client
        bridge.connection_getter = lambda _readonly: client


@dataclass(frozen=True, slots=True)
class Links:
    client: aioredis.Redis | RedisCluster  # every command but the hot ones
    fast: Calls
    limits: LimitsStorage
    address: str  # for messages: what the store talks to
    timeout: float
    sentinel: SentinelMaster | None = None
    pool: aioredis.ConnectionPool | None = None

    @property
    def clustered(self) -> bool:
        return self.limits.clustered

    def is_current(self, connection: Any) -> bool:
        """False for a connection to a Sentinel master that has since been replaced."""
        return self.sentinel is None or self.sentinel.is_current(connection.host, connection.port)

    async def close(self) -> None:
        await self.fast.close()
        await self.client.aclose()
        if self.sentinel is not None:
            await self.sentinel.close()  # with its pool
        if self.pool is not None:
            await self.pool.aclose()  # a client given a pool leaves it open


def connect(cfg: StorageConfig) -> Links:
    """The clients for `cfg`'s topology; nothing is dialled until the first command."""
    timeout = cfg.timeout if cfg.timeout > 0 else DEFAULT_TIMEOUT
    auth = {"username": cfg.username or None, "password": cfg.password or None}
    common: dict[str, Any] = {
        **auth,
        **tls_options(cfg),
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "decode_responses": True,
    }
    addresses = cfg.addresses()
    shown = ",".join(f"{h}:{p}" for h, p in addresses)
    fast_options: dict[str, Any] = {"db": cfg.database, "username": cfg.username, "password": cfg.password}
    fast_options |= {"timeout": timeout, "tls": _ssl_context(cfg)}
    if cfg.topology == "cluster":
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in addresses],
            max_connections=max(1, cfg.optimisation_max_active),  # per node, as Tyk's pool size is
            **common,
        )
        limits = LimitsStorage(cluster, clustered=True)
        return Links(cluster, ClusterCalls(cluster, fast_options), limits, f"cluster {shown}", timeout)
    # One immediate retry on a broken connection, so a Redis restart (or a failover) does not fail one
    # request per pooled connection. Timeouts are not retried: the command may have run.
    pool_options: dict[str, Any] = {
        **common,
        "db": cfg.database,
        "max_connections": max(1, cfg.optimisation_max_active),
        "timeout": timeout,  # past max_active a command waits this long for a connection, as in Tyk
        "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
    }
    if cfg.topology == "sentinel":
        sentinel = SentinelMaster(cfg.master_name, addresses, cfg.sentinel_password, pool_options)
        client = aioredis.Redis(connection_pool=sentinel.pool)
        fast = RespClient("", 0, resolve=sentinel.address, **fast_options)
        sentinel.on_switch(fast.close)
        address = f"sentinel {cfg.master_name}@{shown}"
        return Links(client, fast, LimitsStorage(client, clustered=False), address, timeout, sentinel)
    host, port = addresses[0]
    # A plain pool takes the connection class, not the `ssl` switch that Redis() and Sentinel read.
    pool_options.pop("ssl", None)
    if cfg.use_ssl:
        pool_options["connection_class"] = aioredis.SSLConnection
    pool = aioredis.BlockingConnectionPool(host=host, port=port, **pool_options)
    client = aioredis.Redis(connection_pool=pool)
    fast = RespClient(host, port, **fast_options)
    limits = LimitsStorage(client, clustered=False)
    return Links(client, fast, limits, f"{host}:{port}", timeout, pool=pool)


def tls_options(cfg: StorageConfig) -> dict[str, Any]:
    """redis-py's TLS keywords for Tyk's: verification on unless ssl_insecure_skip_verify, Tyk's default
    minimum of TLS 1.2."""
    if not cfg.use_ssl:
        return {}
    return {
        "ssl": True,
        "ssl_cert_reqs": "none" if cfg.ssl_insecure_skip_verify else "required",
        "ssl_check_hostname": not cfg.ssl_insecure_skip_verify,
        "ssl_ca_certs": cfg.ca_file or None,
        "ssl_certfile": cfg.cert_file or None,
        "ssl_keyfile": cfg.key_file or None,
        "ssl_min_version": _TLS_VERSIONS.get(cfg.tls_min_version, ssl.TLSVersion.TLSv1_2),
    }


def _ssl_context(cfg: StorageConfig) -> ssl.SSLContext | None:
    """The same TLS settings for the pipelined connection (its files read now: a bad one is a config
    error at start, not a failure on every request)."""
    if not cfg.use_ssl:
        return None
    try:
        return _read_tls_files(cfg)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("tyk.conf", f'key "storage.use_ssl": cannot load the TLS files: {exc}') from None


def _read_tls_files(cfg: StorageConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cfg.ca_file or None)
    if cfg.ssl_insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cfg.cert_file:
        context.load_cert_chain(cfg.cert_file, cfg.key_file)
    context.minimum_version = _TLS_VERSIONS.get(cfg.tls_min_version, ssl.TLSVersion.TLSv1_2)
    return context
