"""tyk.conf loading: defaults, types, env overrides, relative paths, and clear errors."""

from __future__ import annotations

import importlib.resources
import json
import socket
from pathlib import Path

import pytest

from gateway.config import check as config_check
from gateway.config import model as config
from gateway.errors import ConfigError
from gateway.identity import keyhash

EXAMPLE = Path(str(importlib.resources.files("gateway") / "examples" / "tyk.conf.example"))


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "tyk.conf"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_example_loads_and_paths_resolve_against_its_folder() -> None:
    cfg = config.load(EXAMPLE, environ={})
    assert cfg.listen_address == "127.0.0.1"
    assert cfg.app_path == str(EXAMPLE.parent / "apps")
    assert cfg.template_path == str(EXAMPLE.parent / "templates")
    assert cfg.storage.type == "embedded"
    assert cfg.storage.path == str(EXAMPLE.parent / "data")


def test_defaults_for_an_empty_file(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, {}), environ={})
    assert (cfg.listen_port, cfg.min_token_length, cfg.hash_keys) == (8080, 3, False)
    assert cfg.app_path == str(tmp_path / "apps")
    assert cfg.rate_limit_response_headers == "quotas"
    assert (cfg.enforce_org_quotas, cfg.enable_rate_limit_smoothing) == (False, False)


def test_org_quotas_and_smoothing_switches(tmp_path: Path) -> None:
    cfg = config.load(
        write(tmp_path, {"enforce_org_quotas": True}), {"TYK_GW_ENABLERATELIMITSMOOTHING": "true"}
    )
    assert (cfg.enforce_org_quotas, cfg.enable_rate_limit_smoothing) == (True, True)
    with pytest.raises(ConfigError, match='"enforce_org_quotas"'):
        config.load(write(tmp_path, {"enforce_org_quotas": "yes"}), {})


def test_a_full_tyk_conf_with_unknown_keys_loads(tmp_path: Path) -> None:
    warnings: list[str] = []
    raw = {"listen_port": 9090, "enable_jsvm": True, "analytics_config": {}}
    cfg = config.load(write(tmp_path, raw), {}, warn=warnings.append)
    assert cfg.listen_port == 9090
    # analytics_config is Tyk's and empty: ignoring it changes nothing, so it is not reported.
    assert warnings == [f'{tmp_path / "tyk.conf"}: key "enable_jsvm" is a Tyk setting this gateway ignores']


def test_env_overrides_use_tyk_names(tmp_path: Path) -> None:
    env = {
        "TYK_GW_LISTENPORT": "7000",
        "TYK_GW_SECRET": "s3",
        "TYK_GW_STORAGE_HOST": "redis.local",
        "TYK_GW_HASHKEYS": "true",
        "TYK_GW_HTTPSERVEROPTIONS_XFFDEPTH": "2",
    }
    cfg = config.load(write(tmp_path, {"listen_port": 1, "secret": "file"}), environ=env)
    assert (cfg.listen_port, cfg.secret, cfg.storage.host, cfg.hash_keys) == (7000, "s3", "redis.local", True)
    assert cfg.http_server_options.xff_depth == 2
    assert config_check.env_name("storage.optimisation_max_active") == "TYK_GW_STORAGE_OPTIMISATIONMAXACTIVE"


def test_omit_config_file(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, {"listen_port": 1}), environ={"TYK_GW_OMITCONFIGFILE": "true"})
    assert cfg.listen_port == 8080


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        ({"listen_port": "8080"}, 'key "listen_port": expected an integer, got "8080"'),
        ({"hash_keys": "yes"}, 'key "hash_keys": expected a boolean, got "yes"'),
        ({"storage": {"port": True}}, 'key "storage.port": expected an integer, got true'),
        ({"storage": "redis"}, 'key "storage": expected an object'),
        ({"storage": {"type": "mongo"}}, 'key "storage.type": expected one of'),
        ({"event_handlers": []}, 'key "event_handlers": expected an object'),
    ],
)
def test_bad_files_name_the_file_and_key(tmp_path: Path, data: object, needle: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    assert str(path) in str(err.value)
    assert needle in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        config.load(tmp_path / "nope.conf", environ={})


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"TYK_GW_LISTENPORT.*expected an integer"):
        config.load(write(tmp_path, {}), environ={"TYK_GW_LISTENPORT": "eighty"})


def test_tyk_zero_timeout_means_30s_and_there_is_no_default_secret(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, {"proxy_default_timeout": 0}), environ={})
    assert cfg.proxy_default_timeout == 30.0 and cfg.secret == ""


@pytest.mark.parametrize("events", [{"queue_size": 0}, {"workers": 0}, {"handler_timeout": 0}])
def test_event_bus_settings_are_checked(tmp_path: Path, events: dict[str, int]) -> None:
    with pytest.raises(ConfigError, match="events"):
        config.load(write(tmp_path, {"events": events}), environ={})


# -- value rules: one line naming the file, the key and the value ------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"listen_port": 70000}, 'key "listen_port": expected a port 1-65535, got 70000'),
        ({"listen_port": -1}, 'key "listen_port": expected a port 1-65535, got -1'),
        ({"listen_port": 0}, 'key "listen_port": expected a port 1-65535, got 0'),
        ({"storage": {"port": 65536}}, 'key "storage.port": expected a port 1-65535, got 65536'),
        (
            {"log_level": "verbose"},
            'key "log_level": expected one of "", "debug", "info", "warn", "error", got "verbose"',
        ),
        (
            {"hash_key_function": "md5"},
            'key "hash_key_function": expected one of "", "murmur32", "murmur64", "murmur128", "sha256", '
            'got "md5"',
        ),
        (
            {"storage": {"type": "mongo"}},
            'key "storage.type": expected one of "embedded", "redis", got "mongo"',
        ),
        (
            {"rate_limit_response_headers": "headers"},
            'key "rate_limit_response_headers": expected one of "", "quotas", "rate_limits", got "headers"',
        ),
        (
            {"store_failure_policy": "maybe"},
            'key "store_failure_policy": expected one of "open", "closed", got "maybe"',
        ),
        ({"proxy_default_timeout": -5}, 'key "proxy_default_timeout": expected seconds >= 0, got -5'),
        ({"store_outage_grace": -1}, 'key "store_outage_grace": expected seconds >= 0, got -1'),
        ({"storage": {"timeout": -1}}, 'key "storage.timeout": expected seconds >= 0, got -1'),
        (
            {"local_session_cache": {"cached_session_timeout": -0.5}},
            'key "local_session_cache.cached_session_timeout": expected seconds >= 0, got -0.5',
        ),
        ({"events": {"handler_timeout": 0}}, 'key "events.handler_timeout": expected seconds > 0, got 0'),
        ({"events": {"workers": 0}}, 'key "events.workers": expected at least 1, got 0'),
        ({"min_token_length": -1}, 'key "min_token_length": expected at least 0, got -1'),
    ],
)
def test_each_bad_value_is_one_exact_line(tmp_path: Path, data: object, message: str) -> None:
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    assert str(err.value) == f"{path}: {message}"


def test_a_bad_value_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, {"listen_port": 8080}), environ={"TYK_GW_LISTENPORT": "99999"})
    assert (
        str(err.value)
        == 'environment TYK_GW_LISTENPORT: key "listen_port": expected a port 1-65535, got 99999'
    )


def test_tyk_spellings_of_the_choices_are_accepted(tmp_path: Path) -> None:
    # Tyk lower-cases log_level and reads "" as its default; every key hash Tyk names is implemented.
    for algorithm in ("", "murmur32", "murmur64", "murmur128", "sha256"):
        raw = {"log_level": "DEBUG", "hash_key_function": algorithm, "rate_limit_response_headers": ""}
        cfg = config.load(write(tmp_path, raw), environ={})
        assert (cfg.log_level, cfg.hash_key_function) == ("DEBUG", algorithm)
    assert set(config_check.CHOICES["hash_key_function"]) == {"", *keyhash.ALGORITHMS}


def test_an_unresolvable_listen_address_is_one_line() -> None:
    try:
        socket.getaddrinfo("no-such-host.invalid", 8080, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError as exc:  # the resolver's own words differ between systems
        reason = exc.strerror
    else:  # pragma: no cover - a resolver that answers for .invalid breaks RFC 6761
        pytest.fail("no-such-host.invalid resolved")
    with pytest.raises(ConfigError) as err:
        config_check.check_listen_address("no-such-host.invalid", 8080, "my.conf")
    assert str(err.value) == (
        'my.conf: key "listen_address": expected a host name or address that resolves, '
        f'got "no-such-host.invalid" ({reason})'
    )
    config_check.check_listen_address("", 8080, "my.conf")  # "" is every interface
    config_check.check_listen_address("127.0.0.1", 8080, "my.conf")
