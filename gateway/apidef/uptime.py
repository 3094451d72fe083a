"""Uptime tests and load balancing, both formats, into an UptimeSpec (TYK-REFERENCE 7.12).

Classic: `uptime_tests {disabled, check_list[]}` and `proxy.{enable_load_balancing, target_list,
check_host_against_uptime_tests}`; OAS: `upstream.uptimeTests {enabled, tests[]}` and
`upstream.loadBalancing {enabled, targets[{url, weight}], skipUnavailableHosts}`. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any
from urllib.parse import urlsplit

from gateway.apidef.common import Reader, show
from gateway.apidef.model import UptimeCheck, UptimeSpec

X = "$.x-tyk-api-gateway.upstream"
KINDS = ("http", "https", "tcp", "tls")
COMMANDS = ("send", "expect")


def classic(r: Reader, doc: dict[str, Any], proxy: dict[str, Any]) -> UptimeSpec:
    path = "$.uptime_tests"
    block = r.obj(doc, "uptime_tests", "$")
    checks: list[UptimeCheck] = []
    for i, entry in enumerate(r.items(block, "check_list", path)):
        at = f"{path}.check_list[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(at, f"expected a check object, got {show(entry)}")
        checks.append(
            _check(
                r,
                entry,
                at,
                r.text(entry, "protocol", at),
                _nanoseconds(r, entry, at),
                "enable_proxy_protocol",
            )
        )
    disabled = r.flag(block, "disabled", path)
    balance = r.flag(proxy, "enable_load_balancing", "$.proxy")
    skip = r.flag(proxy, "check_host_against_uptime_tests", "$.proxy")
    raw_targets = r.items(proxy, "target_list", "$.proxy")
    targets = tuple(
        r.target_url(t, f"$.proxy.target_list[{i}]") for i, t in enumerate(raw_targets) if balance
    )
    if balance and not targets:
        raise r.fail(
            "$.proxy.target_list", "required: at least one URL when enable_load_balancing is on, got []"
        )
    if not disabled:
        _calls(r, checks, f"{path}.check_list")
    return UptimeSpec(
        checks=() if disabled else tuple(checks), targets=targets, skip_down_hosts=skip and balance
    )


def oas(r: Reader, upstream: dict[str, Any]) -> UptimeSpec:
    path = f"{X}.uptimeTests"
    block = r.obj(upstream, "uptimeTests", X)
    checks: list[UptimeCheck] = []
    for i, entry in enumerate(r.items(block, "tests", path)):
        at = f"{path}.tests[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(at, f"expected a test object, got {show(entry)}")
        url = r.text(entry, "url", at)
        scheme = urlsplit(url).scheme if "://" in url else ""
        timeout = r.duration(entry, "timeout", at)
        checks.append(_check(r, entry, at, scheme, timeout, "enableProxyProtocol"))
    lb_path = f"{X}.loadBalancing"
    lb = r.obj(upstream, "loadBalancing", X)
    balance = r.flag(lb, "enabled", lb_path)
    targets: list[str] = []
    for i, entry in enumerate(r.items(lb, "targets", lb_path)):
        at = f"{lb_path}.targets[{i}]"
        if not isinstance(entry, dict):
            raise r.fail(at, f'expected {{"url": ..., "weight": ...}}, got {show(entry)}')
        url = r.target_url(entry.get("url"), f"{at}.url")
        weight = entry.get("weight", 1)
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
            raise r.fail(f"{at}.weight", f"expected a whole number >= 0, got {show(weight)}")
        targets.extend([url] * weight)  # Tyk expands weights into repeated list entries
    if balance and not targets:
        raise r.fail(f"{lb_path}.targets", "required: at least one target with weight > 0 when enabled")
    enabled = r.flag(block, "enabled", path)
    if enabled:
        _calls(r, checks, f"{path}.tests")
    return UptimeSpec(
        checks=tuple(checks) if enabled else (),
        targets=tuple(targets) if balance else (),
        skip_down_hosts=balance and r.flag(lb, "skipUnavailableHosts", lb_path),
    )


def _calls(r: Reader, checks: list[UptimeCheck], path: str) -> None:
    for i, check in enumerate(checks):
        # A Classic `protocol` may leave the URL without a scheme: the host is what the policy judges.
        url = check.url if "://" in check.url else f"{check.kind}://{check.host}"
        r.call(f"{path}[{i}].url", url)


def _nanoseconds(r: Reader, entry: dict[str, Any], at: str) -> float:
    """Classic timeouts are Go durations marshalled as integer nanoseconds."""
    value = entry.get("timeout")
    if value is None:
        return 0.0
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (isinstance(value, float) and not value.is_integer()):
        raise r.fail(f"{at}.timeout", f"expected whole nanoseconds >= 0 (5000000000 = 5s), got {show(value)}")
    return float(value) / 1e9


def _check(
    r: Reader, entry: dict[str, Any], at: str, protocol: str, timeout: float, proxy_key: str
) -> UptimeCheck:
    url = r.text(entry, "url", at)
    # Tyk's rule: a Classic `protocol` replaces the URL's scheme (tcp + "host:port" is valid).
    probe_url = url if not protocol else f"{protocol}://{url.split('://', 1)[-1]}"
    try:
        split = urlsplit(probe_url)
        host_ok = bool(split.hostname) and (split.port is not None or split.scheme in ("http", "https"))
    except ValueError:
        split, host_ok = urlsplit(""), False
    if split.scheme not in KINDS or not host_ok:
        raise r.fail(
            f"{at}.url",
            "required: an http://, https://, tcp://host:port or tls://host:port URL, got "
            + show(entry.get("url")),
        )
    raw_body = r.text(entry, "body", at)
    try:
        body = base64.b64decode(raw_body, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        raise r.fail(
            f"{at}.body", f"expected base64 (Tyk decodes it before sending), got {show(raw_body)}"
        ) from None
    headers = r.obj(entry, "headers", at)
    for name, value in headers.items():
        if not isinstance(value, str):
            raise r.fail(f"{at}.headers.{name}", f"expected a string, got {show(value)}")
    commands: list[tuple[str, str]] = []
    for i, command in enumerate(r.items(entry, "commands", at)):
        cat = f"{at}.commands[{i}]"
        step = command.get("name") if isinstance(command, dict) else None
        if not isinstance(command, dict) or not isinstance(step, str) or step not in COMMANDS:
            raise r.fail(cat, f'expected {{"name": "send" or "expect", "message": ...}}, got {show(command)}')
        commands.append((step, r.text(command, "message", cat)))
    return UptimeCheck(
        url=url,
        kind=split.scheme,
        host=split.netloc.rpartition("@")[2],
        protocol=protocol,
        timeout=timeout,
        method=r.text(entry, "method", at),
        headers=tuple(headers.items()),
        body=body,
        commands=tuple(commands),
        enable_proxy_protocol=r.flag(entry, proxy_key, at),
    )
