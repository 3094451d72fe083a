"""tyk.conf certificate keys: Tyk's expiry monitor defaults (0 means default), env overrides, and
errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config.model import from_dict
from gateway.errors import ConfigError


def test_zero_means_tyks_defaults() -> None:
    zeros = {"warning_threshold_days": 0, "check_cooldown_seconds": 0, "event_cooldown_seconds": 0}
    cfg = from_dict({"security": {"certificate_expiry_monitor": zeros}}, base_dir=Path("."), environ={})
    monitor = cfg.security.certificate_expiry_monitor
    assert (
        monitor.warning_threshold_days,
        monitor.check_cooldown_seconds,
        monitor.event_cooldown_seconds,
    ) == (
        30,
        3600,
        86400,
    )
    assert monitor.scan_configured is True


def test_smaller_values_are_used_as_given_and_env_overrides() -> None:
    env = {"TYK_GW_SECURITY_CERTIFICATEEXPIRYMONITOR_WARNINGTHRESHOLDDAYS": "7"}
    raw = {"security": {"certificate_expiry_monitor": {"event_cooldown_seconds": 5}}}
    monitor = from_dict(raw, base_dir=Path("."), environ=env).security.certificate_expiry_monitor
    assert (monitor.warning_threshold_days, monitor.event_cooldown_seconds) == (7, 5)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            {"security": {"certificate_expiry_monitor": {"check_cooldown_seconds": -1}}},
            "check_cooldown_seconds",
        ),
        ({"security": {"certificates": {"upstream": {"*": 5}}}}, "security.certificates.upstream.*"),
        ({"security": {"certificates": {"apis": "id"}}}, "security.certificates.apis"),
        ({"http_server_options": {"certificates": {}}}, "http_server_options.certificates"),
    ],
)
def test_bad_values_name_the_key(raw: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.").replace("*", r"\*")):
        from_dict(raw, base_dir=Path("."), environ={})
