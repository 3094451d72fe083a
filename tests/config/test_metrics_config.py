"""tyk.conf `metrics`: its defaults (off), and one line naming the key for each bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway import errors
from gateway.app import workers
from gateway.chain import circuit_breaker, version_check
from gateway.config import model as config
from gateway.errors import ConfigError, Reject
from gateway.observe.route import reason


def test_metrics_are_off_by_default() -> None:
    cfg = config.from_dict({}, environ={})
    assert cfg.metrics == config.MetricsConfig(enabled=False, listen_port=0, listen_address="127.0.0.1")


def test_metrics_settings_are_read() -> None:
    raw = {"metrics": {"enabled": True, "listen_port": 9100, "listen_address": "::1"}}
    assert config.from_dict(raw, environ={}).metrics == config.MetricsConfig(True, 9100, "::1")


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"enabled": "yes"}, 'key "metrics.enabled": expected a boolean, got "yes"'),
        (
            {"listen_port": 70000},
            'key "metrics.listen_port": expected a port 1-65535, or 0 for none, got 70000',
        ),
        ({"listen_port": -1}, 'key "metrics.listen_port": expected a port 1-65535, or 0 for none, got -1'),
        ({"listen_port": "9100"}, 'key "metrics.listen_port": expected an integer, got "9100"'),
        (
            {"listen_port": 9100, "listen_address": ""},
            'key "metrics.listen_address": expected an address, such as "127.0.0.1"',
        ),
        (5, 'key "metrics": expected an object, got 5'),
    ],
)
def test_a_bad_metrics_value_is_one_line_naming_the_key(
    tmp_path: Path, metrics: object, message: str
) -> None:
    path = tmp_path / "tyk.conf"
    path.write_text(json.dumps({"metrics": metrics}))
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    assert str(err.value) == f"{path}: {message}"
    assert "\n" not in str(err.value)


def test_workers_refuse_a_shared_metrics_port() -> None:
    raw = {"storage": {"type": "redis"}, "metrics": {"enabled": True, "listen_port": 9100}}
    with pytest.raises(ConfigError, match=r'cannot share "metrics\.listen_port"'):
        workers.check(config.from_dict(raw, environ={}), 2)
    workers.check(config.from_dict({**raw, "metrics": {"enabled": True}}, environ={}), 2)  # a warning only
    workers.check(config.from_dict(raw, environ={}), 1)


@pytest.mark.parametrize(
    ("status", "message", "why"),
    [
        (401, errors.AUTH_FIELD_MISSING, "auth"),
        (403, errors.KEY_EXPIRED, "auth"),
        (429, errors.RATE_LIMIT_EXCEEDED, "rate"),
        (403, errors.QUOTA_EXCEEDED, "quota"),
        (403, version_check.DOES_NOT_EXIST, "version"),
        (503, circuit_breaker.SERVICE_UNAVAILABLE, "breaker"),
        (403, "Key not authorised", "auth"),
        (400, "something else", "other"),
    ],
)
def test_rejection_reasons(status: int, message: str, why: str) -> None:
    assert reason(Reject(status, message)) == why
