"""Redis high availability for the tests: a Sentinel set (a master, a replica, a sentinel) and a three-node
Redis Cluster (with replicas for a failover), each as real processes on 127.0.0.1, free ports and a
temporary folder, started and stopped with bounded waits (tests/setup.sh installs redis-server and
redis-sentinel).

`sentinel_set(folder)` and `redis_cluster(folder)` are context managers; a missing binary FAILS (as the
`redis_server` fixture does), it never skips.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import free_port

WAIT = 15.0  # seconds any one step of a start or a failover may take
MASTER_NAME = "gw-master"
# The servers and the sentinel each require their own password, as Tyk's password and sentinel_password.
PASSWORD, SENTINEL_PASSWORD = "server-secret", "sentinel-secret"


def binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not on PATH; the HA tests need it (tests/setup.sh)", pytrace=False)
    return found


def until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll `condition` (errors count as not yet) until it returns something true; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(redis.RedisError, OSError):
            if result := condition():
                return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)  # bounded poll of processes we started


def bus_port() -> int:
    """A free port with a free cluster bus port (it + 10000, so at most 55535, as Redis requires)."""
    while True:
        port = free_port()
        if port <= 55535:
            with contextlib.suppress(OSError), socket.socket() as sock:
                sock.bind(("127.0.0.1", port + 10000))
                return port


def client(port: int, password: str | None = None) -> redis.Redis:
    return redis.Redis("127.0.0.1", port, password=password, socket_timeout=2, decode_responses=True)


@dataclass
class Processes:
    folder: Path
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, program: str, args: list[str], password: str | None = None, *, bus: bool = False) -> int:
        port = bus_port() if bus else free_port()
        common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        common += ["--logfile", str(self.folder / f"{port}.log"), "--daemonize", "no"]
        self.folder.mkdir(parents=True, exist_ok=True)
        proc = self.procs[port] = subprocess.Popen(
            [binary(program), *args, *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

        def answers() -> bool:
            if proc.poll() is not None:
                log = self.folder / f"{port}.log"
                pytest.fail(f"{program} exited: {log.read_text()[-2000:] if log.exists() else 'no log'}")
            return bool(client(port, password).ping())

        until(answers, f"{program} on port {port}")
        return port

    def kill(self, port: int) -> None:
        proc = self.procs[port]
        proc.kill()
        proc.wait(5)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.wait(5)


_DATA = ["--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0"]


@dataclass
class SentinelSet:
    procs: Processes
    master: int
    replica: int
    sentinel: int

    @property
    def storage(self) -> dict[str, Any]:
        """tyk.conf `storage` for this set, as Tyk writes it."""
        return {
            "type": "redis",
            "master_name": MASTER_NAME,
            "addrs": [f"127.0.0.1:{self.sentinel}"],
            "password": PASSWORD,
            "sentinel_password": SENTINEL_PASSWORD,
        }

    def server(self, port: int) -> redis.Redis:
        return client(port, PASSWORD)

    def master_port(self) -> int:
        sentinel = client(self.sentinel, SENTINEL_PASSWORD)
        return int(sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)[1])

    def failover(self) -> int:
        """SENTINEL FAILOVER (the old master stays up, as in a planned switch); the new master's port once
        the sentinel announces it and it answers as a master."""
        old = self.master_port()
        sentinel = client(self.sentinel, SENTINEL_PASSWORD)
        until(lambda: sentinel.sentinel_failover(MASTER_NAME), "a failover to start")
        new = until(lambda: (p := self.master_port()) != old and p, "the sentinel to name a new master")
        until(lambda: self.server(new).role()[0] == "master", "the new master to be promoted")
        return int(new)

    def kill_master(self) -> int:
        """SIGKILL the master (a crash): the new master's port once the sentinel has failed over to it
        (after its down-after-milliseconds, 1 s here)."""
        old = self.master_port()
        self.procs.kill(old)
        new = until(lambda: (p := self.master_port()) != old and p, "the sentinel to fail over")
        until(lambda: self.server(new).role()[0] == "master", "the new master to be promoted")
        return int(new)


@contextlib.contextmanager
def sentinel_set(folder: Path) -> Iterator[SentinelSet]:
    procs = Processes(folder)
    try:
        auth = [*_DATA, "--requirepass", PASSWORD, "--masterauth", PASSWORD]
        master = procs.start("redis-server", auth, PASSWORD)
        replica = procs.start("redis-server", [*auth, "--replicaof", "127.0.0.1", str(master)], PASSWORD)
        # Synced and streaming: after a diskless sync the master holds writes back until the replica's
        # first acknowledgement (up to a second later), which WAIT waits for.
        primary = client(master, PASSWORD)
        streaming = lambda: primary.set("ha:probe", "1") and primary.execute_command("WAIT", 1, 1000) == 1  # noqa: E731
        until(streaming, "the replica to sync")
        primary.delete("ha:probe")
        conf = folder / "sentinel.conf"  # a sentinel rewrites its own file: it must be writable
        conf.write_text(
            f"requirepass {SENTINEL_PASSWORD}\n"
            f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 1\n"
            f"sentinel auth-pass {MASTER_NAME} {PASSWORD}\n"
            f"sentinel down-after-milliseconds {MASTER_NAME} 1000\n"
            f"sentinel failover-timeout {MASTER_NAME} 5000\n"
        )
        sentinel = procs.start("redis-sentinel", [str(conf)], SENTINEL_PASSWORD)

        def replica_known() -> bool:
            replicas = client(sentinel, SENTINEL_PASSWORD).sentinel_slaves(MASTER_NAME)
            return any(r["port"] == replica and r["master-link-status"] == "ok" for r in replicas)

        until(replica_known, "the sentinel to see the replica")
        yield SentinelSet(procs, master, replica, sentinel)
    finally:
        procs.stop_all()


@dataclass
class Cluster:
    procs: Processes
    ports: list[int]  # every node, masters first

    @property
    def storage(self) -> dict[str, Any]:
        return {"type": "redis", "enable_cluster": True, "addrs": [f"127.0.0.1:{p}" for p in self.ports]}

    def master_of(self, key: str) -> int:
        """The port of the master serving `key`'s slot now."""
        slot = client(self.ports[0]).cluster("keyslot", key)
        for port in self.ports:
            with contextlib.suppress(redis.RedisError, OSError):
                for start, end, master, *_ in client(port).cluster("slots"):
                    if start <= slot <= end:
                        return int(master[1])
        raise AssertionError(f"no node answers for the slot of {key!r}")

    def kill_master_of(self, key: str) -> int:
        """SIGKILL the master serving `key` (a crash); its replica's port once the cluster has promoted it
        (after cluster-node-timeout, 1 s here) and every live node agrees the cluster is whole."""
        old = self.master_of(key)
        self.procs.kill(old)
        alive = [p for p in self.ports if p != old]
        new = until(lambda: (p := self.master_of(key)) != old and p, "a replica to be promoted")
        for port in alive:
            until(lambda p=port: client(p).cluster("info")["cluster_state"] == "ok", f"node {port} whole")
        return int(new)


@contextlib.contextmanager
def redis_cluster(folder: Path, replicas: int = 0) -> Iterator[Cluster]:
    """Three masters, each with `replicas` replicas: slots spread by `redis-cli --cluster create`."""
    procs = Processes(folder)
    try:
        ports = []
        timeout = "1000" if replicas else "2000"  # with replicas: a crashed master is replaced sooner
        for n in range(3 * (1 + replicas)):
            conf = ["--cluster-enabled", "yes", "--cluster-config-file", str(folder / f"nodes-{n}.conf")]
            ports.append(
                procs.start("redis-server", [*_DATA, *conf, "--cluster-node-timeout", timeout], bus=True)
            )
        nodes = [f"127.0.0.1:{p}" for p in ports]
        spread = ["--cluster-replicas", str(replicas), "--cluster-yes"]
        subprocess.run(
            [binary("redis-cli"), "--cluster", "create", *nodes, *spread],
            check=True,
            capture_output=True,
            timeout=WAIT,
        )
        for port in ports:
            until(lambda p=port: client(p).cluster("info")["cluster_state"] == "ok", f"node {port} ready")
        yield Cluster(procs, ports)
    finally:
        procs.stop_all()
