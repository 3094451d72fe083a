"""Uptime tests and load balancing in both formats (TYK-REFERENCE 7.12): fields, Tyk's conversions
(nanosecond timeouts, base64 bodies, weights as repeats) and bad input naming the path and value."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.apidef.loader import parse
from gateway.apidef.model import UptimeCheck, UptimeSpec
from gateway.errors import ConfigError
from tests.apidef.test_fields import classic, oas_doc

BODY = "aGVsbG8="  # base64 of "hello"


def test_classic_check_list_and_load_balancing() -> None:
    doc = classic(
        uptime_tests={
            "disabled": False,
            "check_list": [
                {
                    "url": "http://a.local:8001/health",
                    "method": "POST",
                    "timeout": 2_500_000_000,
                    "headers": {"X-Probe": "1"},
                    "body": BODY,
                },
                {
                    "url": "127.0.0.1:6379",
                    "protocol": "tcp",
                    "commands": [{"name": "send", "message": "PING"}],
                },
            ],
        },
    )
    doc["proxy"].update(
        enable_load_balancing=True,
        check_host_against_uptime_tests=True,
        target_list=["http://a.local:8001", "http://a.local:8001", "https://b.local"],
    )
    uptime = parse(doc, "a.json").uptime
    http, tcp = uptime.checks
    assert http == UptimeCheck(
        url="http://a.local:8001/health",
        kind="http",
        host="a.local:8001",
        timeout=2.5,
        method="POST",
        headers=(("X-Probe", "1"),),
        body="hello",
    )
    assert (tcp.url, tcp.kind, tcp.host, tcp.protocol, tcp.commands) == (
        "127.0.0.1:6379",
        "tcp",
        "127.0.0.1:6379",
        "tcp",
        (("send", "PING"),),
    )
    assert uptime.targets == ("http://a.local:8001", "http://a.local:8001", "https://b.local")
    assert uptime.skip_down_hosts is True


def test_classic_switches() -> None:
    checks = {"check_list": [{"url": "http://a.local/h"}]}
    assert parse(classic(uptime_tests={**checks, "disabled": True}), "a.json").uptime.checks == ()
    doc = classic(uptime_tests=checks)
    # check_host_against_uptime_tests means nothing without load balancing; a target list alone neither.
    doc["proxy"].update(check_host_against_uptime_tests=True, target_list=["http://x.local"])
    assert parse(doc, "a.json").uptime == UptimeSpec(checks=parse(doc, "a.json").uptime.checks)
    assert parse(classic(), "a.json").uptime == UptimeSpec()


def test_oas_tests_and_weighted_targets() -> None:
    upstream = {
        "uptimeTests": {
            "enabled": True,
            "tests": [
                {"url": "https://a.local/health", "timeout": "1.5s", "headers": {"A": "b"}, "body": BODY},
                {"url": "tls://b.local:443", "enableProxyProtocol": True},
            ],
            "hostDownRetestPeriod": "10s",
        },
        "loadBalancing": {
            "enabled": True,
            "skipUnavailableHosts": True,
            "targets": [
                {"url": "http://a.local:1", "weight": 2},
                {"url": "http://b.local:2", "weight": 0},
                {"url": "http://c.local:3", "weight": 1},
            ],
        },
    }
    spec = parse(oas_doc({"upstream": upstream}), "o.json")
    first, second = spec.uptime.checks
    assert (first.kind, first.protocol, first.host, first.timeout, first.body) == (
        "https",
        "https",
        "a.local",
        1.5,
        "hello",
    )
    assert (second.kind, second.host, second.enable_proxy_protocol) == ("tls", "b.local:443", True)
    assert spec.uptime.targets == ("http://a.local:1", "http://a.local:1", "http://c.local:3")
    assert spec.uptime.skip_down_hosts is True
    assert spec.ignored == ()  # read, so no longer named as unsupported
    upstream["uptimeTests"]["enabled"] = False
    upstream["loadBalancing"]["enabled"] = False
    assert parse(oas_doc({"upstream": upstream}), "o.json").uptime == UptimeSpec()


def bad_classic(change: dict[str, Any]) -> dict[str, Any]:
    doc = classic()
    if "proxy" in change:
        doc["proxy"].update(change.pop("proxy"))
    doc.update(change)
    return doc


CLASSIC_BAD = [
    (
        {"uptime_tests": {"check_list": [{"url": "ftp://a.local/x"}]}},
        "$.uptime_tests.check_list[0].url",
        "ftp",
    ),
    ({"uptime_tests": {"check_list": [{"url": "tcp://a.local"}]}}, "$.uptime_tests.check_list[0].url", "tcp"),
    ({"uptime_tests": {"check_list": [{"url": ""}]}}, "$.uptime_tests.check_list[0].url", '""'),
    (
        {"uptime_tests": {"check_list": [{"url": "http://a/", "timeout": -1}]}},
        "$.uptime_tests.check_list[0].timeout",
        "-1",
    ),
    (
        {"uptime_tests": {"check_list": [{"url": "http://a/", "timeout": "5s"}]}},
        "$.uptime_tests.check_list[0].timeout",
        '"5s"',
    ),
    (
        {"uptime_tests": {"check_list": [{"url": "http://a/", "body": "not base64!"}]}},
        "$.uptime_tests.check_list[0].body",
        "not base64!",
    ),
    (
        {"uptime_tests": {"check_list": [{"url": "tcp://a:1", "commands": [{"name": "wait"}]}]}},
        "$.uptime_tests.check_list[0].commands[0]",
        "wait",
    ),
    ({"uptime_tests": {"check_list": ["http://a/"]}}, "$.uptime_tests.check_list[0]", "http://a/"),
    ({"proxy": {"enable_load_balancing": True, "target_list": []}}, "$.proxy.target_list", "[]"),
    (
        {"proxy": {"enable_load_balancing": True, "target_list": ["a.local:80"]}},
        "$.proxy.target_list[0]",
        "a.local:80",
    ),
]


@pytest.mark.parametrize(("change", "path", "value"), CLASSIC_BAD, ids=[c[1] + c[2] for c in CLASSIC_BAD])
def test_classic_bad_input_names_path_and_value(change: dict[str, Any], path: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(bad_classic(change), "bad.json")
    assert info.value.where == "bad.json"
    assert path in info.value.reason and value in info.value.reason, info.value.reason


U = "$.x-tyk-api-gateway.upstream"
OAS_BAD = [
    ({"uptimeTests": {"tests": [{"url": "a.local/health"}]}}, f"{U}.uptimeTests.tests[0].url", "a.local"),
    (
        {"uptimeTests": {"tests": [{"url": "http://a/", "timeout": "soon"}]}},
        f"{U}.uptimeTests.tests[0].timeout",
        "soon",
    ),
    (
        {"uptimeTests": {"tests": [{"url": "http://a/", "timeout": "-2s"}]}},
        f"{U}.uptimeTests.tests[0].timeout",
        "-2s",
    ),
    ({"loadBalancing": {"enabled": True, "targets": []}}, f"{U}.loadBalancing.targets", "enabled"),
    (
        {"loadBalancing": {"enabled": True, "targets": [{"url": "http://a/", "weight": -1}]}},
        f"{U}.loadBalancing.targets[0].weight",
        "-1",
    ),
    (
        {"loadBalancing": {"enabled": True, "targets": [{"url": "nope", "weight": 1}]}},
        f"{U}.loadBalancing.targets[0].url",
        "nope",
    ),
]


@pytest.mark.parametrize(("upstream", "path", "value"), OAS_BAD, ids=[c[1] + c[2] for c in OAS_BAD])
def test_oas_bad_input_names_path_and_value(upstream: dict[str, Any], path: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(oas_doc({"upstream": upstream}), "bad.json")
    assert path in info.value.reason and value in info.value.reason, info.value.reason
