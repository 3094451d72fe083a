"""The Redis store over TLS (`storage.use_ssl`): a redis-server on a TLS port requiring client
certificates, reached with Tyk's `ca_file`, `cert_file` and `key_file` by both the pipelined hot path and
redis-py (the pool and the limiter's storage); `ssl_insecure_skip_verify` skips the server's check, and
without the CA the server is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from gateway.config.storage import StorageConfig
from gateway.errors import ConfigError, StoreError
from gateway.store.limiter import Limiter
from gateway.store.redis import RedisStore
from tests.conftest import free_port
from tests.ha import binary, until
from tests.pki import PKI, cert_pem, write

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A TLS-only redis-server; yields the `storage` keys a client needs (CA, client certificate)."""
    folder = tmp_path_factory.mktemp("tls")
    pki = PKI()
    gateway = pki.client("gateway")
    files = {
        "server": write(folder, "server.pem", cert_pem(pki.server)),
        "server_key": write(folder, "server.key", pki.server.private_key_pem.bytes()),
        "ca": pki.trust_file(folder),
        "cert": write(folder, "client.pem", cert_pem(gateway)),
        "key": write(folder, "client.key", gateway.private_key_pem.bytes()),
    }
    port = free_port()
    args = ["--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)]
    args += ["--tls-cert-file", files["server"], "--tls-key-file", files["server_key"]]
    args += ["--tls-ca-cert-file", files["ca"], "--tls-auth-clients", "yes"]
    proc = subprocess.Popen(
        [binary("redis-server"), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    tls = {"ssl_ca_certs": files["ca"], "ssl_certfile": files["cert"], "ssl_keyfile": files["key"]}
    probe = redis.Redis("127.0.0.1", port, ssl=True, socket_timeout=2, **tls)
    try:
        until(probe.ping, "redis-server on its TLS port")
        yield {
            "type": "redis",
            "host": "127.0.0.1",
            "port": port,
            "use_ssl": True,
            "ca_file": files["ca"],
            "cert_file": files["cert"],
            "key_file": files["key"],
        }
    finally:
        probe.close()
        proc.kill()
        proc.wait(5)


async def test_both_paths_speak_tls_with_a_client_certificate(tls_redis: dict[str, Any]) -> None:
    store = RedisStore(StorageConfig(**tls_redis, tls_min_version="1.2"))
    try:
        assert await store.set_nx("tls-nx", "1", 10_000) is True  # the hot path
        await store.set("apikey-tls", "session")  # redis-py's pool
        assert await store.get("apikey-tls") == "session"
        assert await store.keys("apikey-tls") == ["apikey-tls"]
        assert await Limiter(store.rate_limit_storage()).hit("rate-limit-tls", 1, 60) is True
        assert await store.ping()  # every connection above is TLS: the server has no plain port
    finally:
        await store.close()


async def test_skip_verify_and_a_missing_ca(tls_redis: dict[str, Any]) -> None:
    without_ca = {**tls_redis, "ca_file": ""}
    insecure = RedisStore(StorageConfig(**without_ca, ssl_insecure_skip_verify=True))
    refused = RedisStore(StorageConfig(**without_ca))
    try:
        assert await insecure.set_nx("tls-insecure", "1", 10_000) is True
        await insecure.set("tls-insecure-pool", "1")
        with pytest.raises(StoreError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await refused.get("k")
        with pytest.raises(StoreError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await refused.set("k", "v")
    finally:
        await insecure.close()
        await refused.close()


def test_unreadable_tls_files_are_a_config_error(tmp_path: Path) -> None:
    cfg = StorageConfig(type="redis", use_ssl=True, ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigError, match=r'key "storage\.use_ssl": cannot load the TLS files'):
        RedisStore(cfg)
