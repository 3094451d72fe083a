"""The host checker with a scripted probe: edge-triggered HostDown/HostUp, Tyk's meta, the down
markers and the leader lease on both stores, and the DownHosts view every gateway keeps; and with the
real probe, checks the outbound policy refuses."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from gateway.apidef.model import APISpec, UptimeCheck, UptimeSpec
from gateway.config import model as config
from gateway.config.model import UptimeTestsConfig, UptimeTestsOptions
from gateway.errors import ConfigError
from gateway.events.catalog import Event, EventMessage, HostStatusMeta
from gateway.monitors.probe import Outcome
from gateway.monitors.uptime import LEADER_KEY, MARKER_PREFIX, HostChecker, Tracker
from gateway.outbound import Outbound
from gateway.store.base import Store
from gateway.upstream.balancer import DownHosts

CHECK = UptimeCheck(url="http://a.local:81/health", kind="http", host="a.local:81", timeout=2.0)
OTHER = UptimeCheck(url="tcp://b.local:82", kind="tcp", host="b.local:82", protocol="tcp")
CONFIG = UptimeTestsConfig(
    config=UptimeTestsOptions(failure_trigger_sample_size=3, time_wait=1.0, checker_pool_size=2)
)


def api(api_id: str, *checks: UptimeCheck, targets: tuple[str, ...] = ()) -> APISpec:
    return APISpec(
        api_id=api_id,
        name=api_id,
        org_id="org1",
        listen_path=f"/{api_id}/",
        target_url="http://a.local:81",
        uptime=UptimeSpec(checks=checks, targets=targets, skip_down_hosts=bool(targets)),
    )


class Script:
    """A probe whose answer per URL the test sets: healthy (200) or not (500, or a refused connection)."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}
        self.calls: list[str] = []

    async def __call__(self, check: UptimeCheck) -> Outcome:
        self.calls.append(check.url)
        code = self.codes.get(check.url, 200)
        return Outcome(code, 1.5, code == 0)


def checker(store: Store, fired: list[EventMessage], script: Script, node: str = "n1") -> HostChecker:
    return HostChecker(CONFIG, store, fired.append, DownHosts(), probe_fn=script, node_id=node)


def test_tracker_fires_once_per_transition_and_caps_the_count() -> None:
    tracker = Tracker(3)
    seen = [tracker.record("k", False) for _ in range(10)]
    assert seen == [None, None, Event.HostDown] + [None] * 7
    assert tracker.record("k", True) == Event.HostUp  # the first success ends the outage
    assert tracker.record("k", True) is None
    # Failures must be consecutive: a success in between starts the count again.
    assert [tracker.record("k", h) for h in (False, False, True, False, False)] == [None] * 5
    assert tracker.record("k", False) == Event.HostDown


async def test_down_then_up_fires_each_once_with_tyk_meta(store: Store) -> None:
    fired: list[EventMessage] = []
    script = Script()
    hc = checker(store, fired, script)
    hc.set_specs([api("api1", CHECK, OTHER)])
    script.codes[CHECK.url] = 500
    for _ in range(2):
        await hc.run_round()
    assert fired == [] and await store.get(MARKER_PREFIX + "a.local:81") is None
    for _ in range(5):  # the third failure crosses the threshold; later failures stay silent
        await hc.run_round()
    assert [m.type for m in fired] == [Event.HostDown]
    down = fired[0]
    assert (down.api_id, down.org_id) == ("api1", "org1")
    assert isinstance(down.meta, HostStatusMeta) and down.meta.message == "Uptime test failed"
    assert down.meta.host_info == {
        "CheckURL": "http://a.local:81/health",
        "Protocol": "",
        "Timeout": 2_000_000_000,
        "EnableProxyProtocol": False,
        "Commands": [],
        "Method": "",
        "Headers": {},
        "Body": "",
        "MetaData": {"target_url": "http://a.local:81/health", "api_id": "api1", "host_name": "a.local:81"},
        "ResponseCode": 500,
        "Latency": 1.5,
        "IsTCPError": False,
    }
    assert await store.get(MARKER_PREFIX + "a.local:81") == "1"
    assert await store.get(MARKER_PREFIX + "b.local:82") is None
    assert await store.get(LEADER_KEY) == "n1"
    assert hc.leader and script.calls.count(OTHER.url) == 7
    del script.codes[CHECK.url]
    for _ in range(3):
        await hc.run_round()
    assert [m.type for m in fired] == [Event.HostDown, Event.HostUp]
    up = fired[1].meta
    assert isinstance(up, HostStatusMeta) and up.message == "Uptime test succeeded"
    assert (up.host_info["ResponseCode"], up.host_info["IsTCPError"]) == (200, False)
    assert await store.get(MARKER_PREFIX + "a.local:81") is None


async def test_a_refused_connection_reports_code_0_and_a_tcp_error(store: Store) -> None:
    fired: list[EventMessage] = []
    script = Script()
    hc = checker(store, fired, script)
    hc.set_specs([api("api1", OTHER)])
    script.codes[OTHER.url] = 0
    for _ in range(3):
        await hc.run_round()
    (down,) = fired
    assert isinstance(down.meta, HostStatusMeta)
    info = down.meta.host_info
    assert (info["ResponseCode"], info["IsTCPError"], info["Protocol"]) == (0, True, "tcp")


async def test_every_api_owning_a_check_hears_about_it_once(store: Store) -> None:
    fired: list[EventMessage] = []
    script = Script()
    hc = checker(store, fired, script)
    hc.set_specs([api("api1", CHECK), api("api2", CHECK)])
    script.codes[CHECK.url] = 503
    for _ in range(4):
        await hc.run_round()
    assert script.calls == [CHECK.url] * 4  # probed once per round, not once per API
    assert sorted((m.type, m.api_id) for m in fired) == [(Event.HostDown, "api1"), (Event.HostDown, "api2")]


async def test_only_the_lease_holder_checks_and_the_other_reads_the_markers(store: Store) -> None:
    fired: list[EventMessage] = []
    leader_script, follower_script = Script(), Script()
    leader = checker(store, fired, leader_script, node="leader")
    follower = checker(store, fired, follower_script, node="follower")
    specs = [api("api1", CHECK, targets=("http://a.local:81", "http://c.local:83"))]
    for hc in (leader, follower):
        hc.set_specs(specs)
    leader_script.codes[CHECK.url] = 500
    for _ in range(3):
        await leader.run_round()
        await follower.run_round()
    assert leader.leader and not follower.leader and follower_script.calls == []
    assert [m.type for m in fired] == [Event.HostDown]
    # The leader knows from memory, the follower from the marker: both skip the host.
    assert leader.down_hosts.hosts == follower.down_hosts.hosts == frozenset({"a.local:81"})
    del leader_script.codes[CHECK.url]
    await leader.run_round()
    await follower.run_round()
    assert leader.down_hosts.hosts == follower.down_hosts.hosts == frozenset()
    assert [m.type for m in fired] == [Event.HostDown, Event.HostUp]


async def test_a_reload_keeps_an_ongoing_outage_and_forgets_removed_checks(store: Store) -> None:
    fired: list[EventMessage] = []
    script = Script()
    hc = checker(store, fired, script)
    hc.set_specs([api("api1", CHECK)])
    script.codes[CHECK.url] = 500
    for _ in range(3):
        await hc.run_round()
    hc.set_specs([api("api1", CHECK), api("api2", OTHER)])  # a reload with one more API
    for _ in range(3):
        await hc.run_round()
    assert [m.type for m in fired] == [Event.HostDown]  # no second HostDown for the same outage
    hc.set_specs([api("api2", replace(OTHER, timeout=1.0))])
    assert hc.tracker.down == set()
    await hc.run_round()
    assert [m.type for m in fired] == [Event.HostDown]  # a removed check never reports recovery


def test_tyk_conf_defaults_and_bad_values() -> None:
    opts = config.from_dict({}).uptime_tests.config
    assert (opts.failure_trigger_sample_size, opts.time_wait, opts.checker_pool_size) == (
        3,
        10.0,
        os.cpu_count() or 1,
    )
    tuned = config.from_dict(
        {"uptime_tests": {"poller_group": "eu", "config": {"time_wait": 0.2, "checker_pool_size": 4}}}
    ).uptime_tests
    assert (tuned.poller_group, tuned.config.time_wait, tuned.config.checker_pool_size) == ("eu", 0.2, 4)
    for key, value in (("failure_trigger_sample_size", -1), ("time_wait", -0.5), ("checker_pool_size", -2)):
        with pytest.raises(ConfigError) as info:
            config.from_dict({"uptime_tests": {"config": {key: value}}})
        assert f'"uptime_tests.config.{key}"' in str(info.value) and str(value) in str(info.value)


async def test_disabled_checker_never_runs_and_a_poller_group_has_its_own_lease(store: Store) -> None:
    off = HostChecker(replace(CONFIG, disable=True), store, [].append, DownHosts())
    off.start()
    await off.stop()
    assert await store.get(LEADER_KEY) is None
    grouped = HostChecker(replace(CONFIG, poller_group="eu"), store, [].append, DownHosts(), node_id="g")
    await grouped.run_round()
    assert await store.get(LEADER_KEY + ".eu") == "g" and await store.get(LEADER_KEY) is None


async def test_a_probe_that_raises_counts_as_a_failure_and_spares_the_others(store: Store) -> None:
    fired: list[EventMessage] = []
    script = Script()

    async def flaky(check: UptimeCheck) -> Outcome:
        if check is CHECK:
            raise UnicodeEncodeError("latin-1", "é", 0, 1, "header value")
        return await script(check)

    hc = HostChecker(CONFIG, store, fired.append, DownHosts(), probe_fn=flaky)
    hc.set_specs([api("api1", CHECK, OTHER)])
    for _ in range(3):
        await hc.run_round()
    assert [(m.type, m.meta.host_info["CheckURL"]) for m in fired if isinstance(m.meta, HostStatusMeta)] == [
        (Event.HostDown, CHECK.url)
    ]
    assert script.calls == [OTHER.url] * 3


async def test_a_check_the_outbound_policy_refuses_fails_and_the_log_says_why(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """The real probe, HTTP and TCP, with both names resolving (through the seam) to the metadata address:
    refused before any connection, each check down, the reason logged with the host."""

    async def metadata(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    fired: list[EventMessage] = []
    once = replace(CONFIG, config=replace(CONFIG.config, failure_trigger_sample_size=1))
    hc = HostChecker(once, store, fired.append, DownHosts(), outbound=Outbound(resolver=metadata))
    hc.set_specs([api("api1", CHECK, OTHER)])
    try:
        await hc.run_round()
    finally:
        await hc.stop()
    assert sorted(m.meta.host_info["CheckURL"] for m in fired if isinstance(m.meta, HostStatusMeta)) == [
        CHECK.url,
        OTHER.url,
    ]
    refused = [r.getMessage() for r in caplog.records if "outbound policy" in r.getMessage()]
    assert len(refused) == 2 and any(
        m.startswith("uptime check on a.local:81 could not run:")
        and "169.254.169.254 (from a.local) is in outbound.deny (169.254.0.0/16)" in m
        for m in refused
    )
