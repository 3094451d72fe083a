"""Load balancing: round-robin over an API's target list, skipping hosts the uptime checker marks down.

`DownHosts` is the one shared view of which hosts are down: the host checker replaces its set after
every round, and requests only read it (a set lookup per skipped target, no store call). This module
must not probe, read the store or fire anything: that is `gateway.monitors.uptime`'s job.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from gateway.apidef.model import APISpec

# Tyk's internal responder when every target is down: Go's http.Error body and headers.
ALL_DOWN_BODY = b"all hosts are down\n"
ALL_DOWN_HEADERS = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"x-content-type-options", b"nosniff"),
    (b"content-length", str(len(ALL_DOWN_BODY)).encode()),
)


class DownHosts:
    """The host[:port] values (as written in URLs) currently marked down; swapped whole, never mutated."""

    __slots__ = ("hosts",)

    def __init__(self) -> None:
        self.hosts: frozenset[str] = frozenset()


class Balancer:
    """Tyk's round-robin: each request starts one position further on; with `skip`, down targets are
    passed over in list order, and None means every target is down."""

    __slots__ = ("_down", "_hosts", "_next", "_skip", "targets")

    def __init__(self, targets: tuple[str, ...], skip: bool, down: DownHosts) -> None:
        if not targets:
            raise ValueError("a balancer needs at least one target")
        self.targets = targets
        self._hosts = tuple(target_host(t) for t in targets)
        self._skip = skip
        self._down = down
        self._next = 0

    def pick(self) -> str | None:
        count = len(self.targets)
        start = self._next
        self._next = (start + 1) % count
        down = self._down.hosts
        if not self._skip or not down:
            return self.targets[start]
        for step in range(count):
            index = (start + step) % count
            if self._hosts[index] not in down:
                return self.targets[index]
        return None


def target_host(url: str) -> str:
    """Tyk compares a target URL's host (host[:port] as written) with the down markers' names."""
    return urlsplit(url).netloc.rpartition("@")[2]


def build(spec: APISpec, down: DownHosts) -> Balancer | None:
    """The API's balancer, or None when load balancing is off (the proxy uses `target_url`)."""
    uptime = spec.uptime
    return Balancer(uptime.targets, uptime.skip_down_hosts, down) if uptime.targets else None
