"""tyk.conf `storage` for Redis Sentinel, Cluster and TLS: Tyk's keys honoured (addresses as Tyk's
HostAddrs reads them, master_name before enable_cluster), what cannot work refused by name at load, keys
that would do nothing in this configuration warned about, TLS files resolved against the config's folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.config import model as config
from gateway.config.storage import StorageConfig, split_address
from gateway.errors import ConfigError


def load(tmp_path: Path, storage: dict[str, Any], environ: dict[str, str] | None = None) -> config.Config:
    path = tmp_path / "tyk.conf"
    path.write_text(json.dumps({"storage": storage}))
    return config.load(path, environ=environ or {}, warn=lambda line: None)


def test_tyk_sentinel_and_cluster_keys_are_read(tmp_path: Path) -> None:
    sentinel = load(
        tmp_path,
        {
            "type": "redis",
            "master_name": "mymaster",
            "sentinel_password": "sp",
            "addrs": ["10.0.0.1:26379", "[::1]:26380"],
            "enable_cluster": True,  # Tyk: master_name wins
        },
    ).storage
    assert sentinel.topology == "sentinel"
    assert sentinel.addresses() == [("10.0.0.1", 26379), ("::1", 26380)]
    assert sentinel.sentinel_password == "sp"
    cluster = load(tmp_path, {"type": "redis", "enable_cluster": True, "addrs": ["a:7000", "b:7001"]}).storage
    assert (cluster.topology, cluster.addresses()) == ("cluster", [("a", 7000), ("b", 7001)])


def test_addresses_follow_tyk_host_addrs() -> None:
    assert StorageConfig(host="h", port=1).addresses() == [("h", 1)]
    assert StorageConfig(host="h", hosts={"b": "2", "a": 1}).addresses() == [("a", 1), ("b", 2)]
    assert StorageConfig(hosts={"b": "2"}, addrs=["c:3"]).addresses() == [("c", 3)]
    assert StorageConfig(addrs=["c:3", "d:4"]).topology == "single"  # one server: the first, as Tyk
    for bad in ("nohost", ":1", "h:", "h:0", "h:65536", "h:x"):
        with pytest.raises(ValueError):
            split_address(bad)


def test_the_environment_takes_tyk_comma_lists(tmp_path: Path) -> None:
    env = {"TYK_GW_STORAGE_ADDRS": "a:1,b:2", "TYK_GW_STORAGE_ENABLECLUSTER": "true"}
    storage = load(tmp_path, {"type": "redis"}, env).storage
    assert (storage.topology, storage.addresses()) == ("cluster", [("a", 1), ("b", 2)])
    assert load(tmp_path, {}, {"TYK_GW_STORAGE_ADDRS": '["c:3"]'}).storage.addrs == ["c:3"]


@pytest.mark.parametrize(
    ("storage", "message"),
    [
        ({"addrs": ["redis"]}, 'key "storage.addrs": expected "host:port" with a port 1-65535, got "redis"'),
        ({"addrs": [6379]}, 'key "storage.addrs": expected "host:port" strings, got 6379'),
        ({"hosts": {"h": "x"}}, 'key "storage.hosts": expected "host:port"'),
        (
            {"enable_cluster": True, "database": 2},
            'key "storage.database": Redis Cluster has only database 0',
        ),
        (
            {"iam_auth": {"enabled": True}},
            'key "storage.iam_auth": cloud IAM authentication is not supported',
        ),
        ({"tls_min_version": "1.4"}, 'key "storage.tls_min_version": expected one of'),
        ({"tls_max_version": "1.2"}, 'key "storage.tls_max_version": only "1.3"'),
        ({"tls_min_version": "1.3", "tls_max_version": "1.3"}, None),
        ({"cert_file": "c.pem"}, 'key "storage.cert_file": a client certificate needs both files'),
        ({"key_file": "k.pem"}, 'key "storage.key_file": a client certificate needs both files'),
    ],
)
def test_what_cannot_work_is_refused_by_name(
    tmp_path: Path, storage: dict[str, Any], message: str | None
) -> None:
    if message is None:
        load(tmp_path, {"type": "redis", **storage})
        return
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path, {"type": "redis", **storage})


def test_keys_that_would_do_nothing_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "tyk.conf"
    storage = {"master_name": "m", "enable_cluster": True, "ca_file": "ca.pem", "addrs": ["a:1"]}
    lines: list[str] = []
    for raw in (
        {"type": "embedded", "master_name": "m"},
        {"type": "redis", **storage},
        {"type": "redis", "sentinel_password": "p", "addrs": ["a:1", "b:2"]},
    ):
        path.write_text(json.dumps({"storage": raw}))
        config.load(path, environ={}, warn=lines.append)
    effect = "has no effect with this storage configuration"
    assert lines == [
        f'{path}: key "storage.master_name" {effect}',
        f'{path}: key "storage.enable_cluster" {effect}',
        f'{path}: key "storage.ca_file" {effect}',
        f'{path}: key "storage.sentinel_password" {effect}',
        f'{path}: key "storage.addrs": one server uses only the first address (as Tyk does)',
    ]


def test_tls_files_resolve_against_the_config_folder(tmp_path: Path) -> None:
    tls = {"use_ssl": True, "ca_file": "ca.pem", "cert_file": "/abs/c.pem", "key_file": "k.pem"}
    storage = load(tmp_path, {"type": "redis", **tls}).storage
    assert (storage.ca_file, storage.cert_file, storage.key_file) == (
        str(tmp_path / "ca.pem"),
        "/abs/c.pem",
        str(tmp_path / "k.pem"),
    )
