"""tyk.conf `storage` (Tyk's StorageOptionsConf): the embedded store, one Redis, Sentinel or Cluster, TLS,
and the rules its keys must meet together; every key that changes where or how the gateway connects is
honoured or refused here by name, never ignored. It connects to nothing: store/topology.py does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config.check import env_name, show
from gateway.errors import ConfigError

TLS_VERSIONS = ("", "1.0", "1.1", "1.2", "1.3")  # Tyk's; "" is its default (min 1.2, max 1.3)
_TLS_FILES = ("ca_file", "cert_file", "key_file")


@dataclass(frozen=True, slots=True)
class StorageConfig:
    type: str = "embedded"  # Tyk's only value is "redis"; "embedded" (our default) needs no server
    host: str = "localhost"
    port: int = 6379
    hosts: dict[str, Any] = field(default_factory=dict)  # Tyk's deprecated {host: port}; addrs wins
    addrs: list[Any] = field(default_factory=list)  # "host:port": the sentinels, or cluster seed nodes
    master_name: str = ""  # set: Redis Sentinel, `addrs` being the sentinels (wins over enable_cluster)
    sentinel_password: str = ""  # AUTH on the sentinels; `password` is the master's
    enable_cluster: bool = False  # Redis Cluster, `addrs` being any of its nodes
    username: str = ""
    password: str = ""
    database: int = 0
    timeout: float = 5.0
    optimisation_max_active: int = 500  # per node on a cluster, as in Tyk
    use_ssl: bool = False
    ssl_insecure_skip_verify: bool = False
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    tls_min_version: str = ""
    tls_max_version: str = ""
    iam_auth: dict[str, Any] = field(default_factory=dict)  # refused when enabled (cloud IAM tokens)
    path: str = "data"  # embedded store: folder of its journal, relative to the config file
    # Embedded store: open a journal (store or outbox) that lost records, logging the loss, instead of
    # refusing to start (also `--accept-journal-loss`).
    accept_journal_loss: bool = False

    @property
    def topology(self) -> str:
        """ "sentinel", "cluster" or "single": Tyk's order (master_name first, then enable_cluster)."""
        return "sentinel" if self.master_name else "cluster" if self.enable_cluster else "single"

    def addresses(self) -> list[tuple[str, int]]:
        """Tyk's HostAddrs: `addrs`, else `hosts`, else host:port. One server uses the first."""
        if self.addrs:
            return [split_address(a) for a in self.addrs]
        if self.hosts:
            return [split_address(f"{h}:{p}") for h, p in sorted(self.hosts.items())]
        return [(self.host, self.port)]


def split_address(text: str) -> tuple[str, int]:
    """ "host:port" (Go's form, an IPv6 host in brackets) as (host, port); ValueError if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(text)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def review(cfg: StorageConfig, where: str, env: Mapping[str, str]) -> list[str]:
    """ConfigError for what cannot work together; warnings for keys set where nothing reads them."""

    def fail(key: str, problem: str) -> ConfigError:
        name = env_name(f"storage.{key}")
        return ConfigError(f"environment {name}" if name in env else where, f'key "storage.{key}": {problem}')

    for key, items in (("addrs", cfg.addrs), ("hosts", [f"{h}:{p}" for h, p in cfg.hosts.items()])):
        for item in items:
            if not isinstance(item, str):
                raise fail(key, f'expected "host:port" strings, got {show(item)}')
            try:
                split_address(item)
            except ValueError:
                raise fail(key, f'expected "host:port" with a port 1-65535, got {show(item)}') from None
    for key in ("tls_min_version", "tls_max_version"):
        if getattr(cfg, key) not in TLS_VERSIONS:
            raise fail(key, f"expected one of {', '.join(show(v) for v in TLS_VERSIONS)}")
    if cfg.tls_max_version not in ("", "1.3"):
        # redis-py sets only a minimum on its TLS contexts; a lower cap would be silently absent.
        raise fail(
            "tls_max_version", 'only "1.3" (the default) is supported; cap versions from Redis\'s side'
        )
    if TLS_VERSIONS.index(cfg.tls_min_version or "1.2") > TLS_VERSIONS.index(cfg.tls_max_version or "1.3"):
        raise fail("tls_min_version", "is above tls_max_version")
    if bool(cfg.cert_file) != bool(cfg.key_file):
        raise fail("cert_file" if cfg.cert_file else "key_file", "a client certificate needs both files")
    if cfg.iam_auth.get("enabled"):
        raise fail("iam_auth", "cloud IAM authentication is not supported; use username and password")
    if cfg.topology == "cluster" and cfg.database != 0:
        raise fail("database", "Redis Cluster has only database 0")
    unread: list[str] = []
    if cfg.type != "redis":
        unread += [
            k for k in ("master_name", "enable_cluster", "addrs", "hosts", "use_ssl") if getattr(cfg, k)
        ]
    elif cfg.topology == "sentinel" and cfg.enable_cluster:
        unread.append("enable_cluster")  # Tyk's rule: master_name wins
    if cfg.sentinel_password and cfg.topology != "sentinel":
        unread.append("sentinel_password")
    if not cfg.use_ssl:
        unread += [k for k in (*_TLS_FILES, "ssl_insecure_skip_verify") if getattr(cfg, k)]
    lines = [f'{where}: key "storage.{k}" has no effect with this storage configuration' for k in unread]
    if cfg.type == "redis" and cfg.topology == "single" and len(cfg.addresses()) > 1:
        lines.append(f'{where}: key "storage.addrs": one server uses only the first address (as Tyk does)')
    return lines


def resolved(cfg: StorageConfig, base: Path) -> StorageConfig:
    """The embedded store's folder and the TLS files, relative to the config file's folder."""
    files: dict[str, Any] = {
        k: str((base / getattr(cfg, k)).resolve()) for k in _TLS_FILES if getattr(cfg, k)
    }
    return dataclasses.replace(cfg, path=str((base / cfg.path).resolve()), **files)
