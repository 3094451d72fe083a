"""The background host checker: every API's uptime checks each `time_wait` seconds -> HostDown / HostUp.

One gateway per poller group checks (a leader lease in the store); it fires each transition once per
outage (edge-triggered: a deliberate fix of Tyk's HostDown-on-every-failure, TYK-REFERENCE 11.8) and
keeps Tyk's down markers in the store. Every gateway refreshes the `DownHosts` set the load balancer
reads, so requests never wait on a probe or the store. It must not run anything on the request path.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from gateway.apidef.model import APISpec, UptimeCheck
from gateway.config.model import UptimeTestsConfig
from gateway.errors import StoreError
from gateway.events.catalog import Event, EventMessage, HostStatusMeta
from gateway.log import Throttle, get_logger
from gateway.monitors.probe import DEFAULT_TIMEOUT, Outcome, probe
from gateway.outbound import Outbound
from gateway.store.base import Store
from gateway.tasks import cancel_and_wait
from gateway.upstream.balancer import DownHosts, target_host

log = get_logger("uptime")

LEADER_KEY = "host-checker:PollerActiveInstanceID"
MARKER_PREFIX = "host-checker:PollerCheckerInstance:"
LEADER_TTL_MS = 15_000  # Tyk's 15 s, the least: the lease is renewed once per round (see set_specs)
MESSAGES = {Event.HostDown: "Uptime test failed", Event.HostUp: "Uptime test succeeded"}

Probe = Callable[[UptimeCheck], Awaitable[Outcome]]
Fire = Callable[[EventMessage], object]
K = TypeVar("K", bound=Hashable)


class Tracker(Generic[K]):
    """Consecutive failures per check, capped at the sample size; `record` reports transitions only.

    Down after `sample_size` failures in a row; up again on the first success. (Tyk never resets the
    count on a success below the limit, and then needs as many successes as it counted failures.)
    """

    def __init__(self, sample_size: int) -> None:
        self.sample_size = max(1, sample_size)
        self.down: set[K] = set()
        self._failures: dict[K, int] = {}

    def record(self, key: K, healthy: bool) -> Event | None:
        if healthy:
            self._failures.pop(key, None)
            if key in self.down:
                self.down.discard(key)
                return Event.HostUp
            return None
        count = min(self._failures.get(key, 0) + 1, self.sample_size)
        self._failures[key] = count
        if count >= self.sample_size and key not in self.down:
            self.down.add(key)
            return Event.HostDown
        return None

    def keep_only(self, keys: set[K]) -> None:
        """Forget checks that no longer exist (after a reload)."""
        self.down &= keys
        self._failures = {k: v for k, v in self._failures.items() if k in keys}

    def reset(self) -> None:
        self.down.clear()
        self._failures.clear()


@dataclass(frozen=True, slots=True)
class Owner:
    api_id: str
    org_id: str


class HostChecker:
    """Built by app/ with the store, `bus.fire`, the DownHosts and the outbound policy; `set_specs` on each
    (re)load, `start`/`stop` with the gateway. `probe_fn` and `node_id` replace probe and id in tests."""

    def __init__(
        self,
        config: UptimeTestsConfig,
        store: Store,
        fire: Fire,
        down: DownHosts,
        *,
        probe_fn: Probe | None = None,
        node_id: str | None = None,
        outbound: Outbound | None = None,
    ) -> None:
        opts = config.config
        self.config = config
        self.node_id = node_id or uuid.uuid4().hex
        self.leader_key = LEADER_KEY + (f".{config.poller_group}" if config.poller_group else "")
        self.interval = opts.time_wait
        self.leader_ttl_ms = LEADER_TTL_MS  # grown by set_specs to outlive a round
        self._ttl_base = opts.time_wait * opts.failure_trigger_sample_size
        self.marker_ttl = self._ttl_base
        self.tracker: Tracker[UptimeCheck] = Tracker(opts.failure_trigger_sample_size)
        self.leader = False
        self._store, self._fire, self.down_hosts, self._outbound = store, fire, down, outbound or Outbound()
        self._pool = asyncio.Semaphore(max(1, opts.checker_pool_size))
        self._client: httpx.AsyncClient | None = None
        self._probe = probe_fn or self._http_probe
        self._checks: dict[UptimeCheck, list[Owner]] = {}
        self._watched: frozenset[str] = frozenset()  # hosts some balancer may skip
        self._task: asyncio.Task[None] | None = None
        self._store_log = Throttle(30.0)
        self._probe_log = Throttle(300.0)

    def set_specs(self, specs: Iterable[APISpec]) -> None:
        """Check these APIs from the next round on; state of checks that remain is kept."""
        checks: dict[UptimeCheck, list[Owner]] = {}
        watched: set[str] = set()
        for spec in specs:
            for check in spec.uptime.checks:
                checks.setdefault(check, []).append(Owner(spec.api_id, spec.org_id))
            if spec.uptime.skip_down_hosts:
                watched.update(target_host(t) for t in spec.uptime.targets)
        self._checks, self._watched = checks, frozenset(watched)
        # Tyk's TTL is time_wait x sample size; a round also lasts as long as its slowest probe, and the
        # marker must outlive it, or other gateways would see a down host come back between rounds.
        slowest = max((c.timeout or DEFAULT_TIMEOUT for c in checks), default=0.0)
        self.marker_ttl = self._ttl_base + slowest
        # Renewed at the start of each round, so it must outlive a whole round plus the wait after it:
        # a lease that lapsed in between would hand the lead over and restart every failure count.
        self.leader_ttl_ms = max(LEADER_TTL_MS, int(2000 * (self.interval + slowest)))
        self.tracker.keep_only(set(checks))

    def start(self) -> None:
        if self.config.disable:
            log.info("uptime tests disabled (uptime_tests.disable)")
            return
        self._task = asyncio.create_task(self._loop(), name="uptime-checker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_round()
            except Exception:  # one bad round must not end uptime checking for good
                log.exception("uptime check round failed")
            await asyncio.sleep(self.interval)

    async def run_round(self) -> None:
        """Renew or take the lead; the leader checks, every gateway refreshes its down-host set."""
        self.leader = await self._lead()
        if self.leader:
            await self._check_all()
            hosts = {check.host for check in self.tracker.down}
        else:
            self.tracker.reset()  # as Tyk's StopPoller: a new leader starts counting afresh
            hosts = await self._read_markers()
        self.down_hosts.hosts = frozenset(hosts)

    async def _lead(self) -> bool:
        try:
            return await self._store.lease(self.leader_key, self.node_id, self.leader_ttl_ms)
        except StoreError as exc:
            # Tyk's rule when the leader key cannot be read: assume control and keep checking.
            self._warn(exc)
            return True

    async def _check_all(self) -> None:
        checks = list(self._checks.items())
        outcomes = await asyncio.gather(*(self._bounded(check) for check, _ in checks))
        recovered: set[str] = set()
        for (check, owners), outcome in zip(checks, outcomes, strict=True):
            if check not in self._checks:  # removed by a reload while it was being probed
                continue
            event = self.tracker.record(check, outcome.healthy)
            if event is None:
                continue
            log.warning("[HOST CHECKER] host %s: %s", "DOWN" if event == Event.HostDown else "UP", check.host)
            if event == Event.HostUp:
                recovered.add(check.host)
            for owner in owners:
                meta = HostStatusMeta(MESSAGES[event], host_info=host_info(check, owner, outcome))
                self._fire(EventMessage(event, meta, owner.api_id, owner.org_id))
        down = {check.host for check in self.tracker.down}
        try:
            # Refreshed every round while down, so a marker outlives the leader only briefly.
            for host in down:
                await self._store.set(MARKER_PREFIX + host, "1", self.marker_ttl)
            for host in recovered - down:
                await self._store.delete(MARKER_PREFIX + host)
        except StoreError as exc:
            self._warn(exc)

    async def _bounded(self, check: UptimeCheck) -> Outcome:
        async with self._pool:
            try:
                return await self._probe(check)
            except Exception as exc:  # one odd check must not stop the others: it counts as failed
                if self._probe_log.allow(check.url):  # the host, not the URL: it may hold credentials
                    log.warning("uptime check on %s could not run: %r", check.host, exc)
                return Outcome(0, 0.0, True)

    async def _http_probe(self, check: UptimeCheck) -> Outcome:
        if self._client is None:
            self._client = self._outbound.client(follow_redirects=True)  # as Go's; each hop is vetted
        return await probe(check, self._client, self._outbound)  # refused: _bounded logs why

    async def _read_markers(self) -> set[str]:
        hosts = sorted(self._watched)
        try:
            values = await asyncio.gather(*(self._store.get(MARKER_PREFIX + h) for h in hosts))
        except StoreError as exc:
            self._warn(exc)
            return set(self.down_hosts.hosts)  # keep the last known view through a store outage
        return {host for host, value in zip(hosts, values, strict=True) if value == "1"}

    def _warn(self, exc: StoreError) -> None:
        if self._store_log.allow():
            log.warning("uptime checker: %s", exc)


def host_info(check: UptimeCheck, owner: Owner, outcome: Outcome) -> dict[str, Any]:
    """Tyk's HostHealthReport with its Go field names (`.Meta.HostInfo.CheckURL`, ...)."""
    return {
        "CheckURL": check.url,
        "Protocol": check.protocol,
        "Timeout": round(check.timeout * 1e9),  # a Go time.Duration: nanoseconds
        "EnableProxyProtocol": check.enable_proxy_protocol,
        "Commands": [{"Name": name, "Message": message} for name, message in check.commands],
        "Method": check.method,
        "Headers": dict(check.headers),
        "Body": check.body,
        "MetaData": {"target_url": check.url, "api_id": owner.api_id, "host_name": check.host},
        "ResponseCode": outcome.response_code,
        "Latency": outcome.latency_ms,
        "IsTCPError": outcome.tcp_error,
    }
