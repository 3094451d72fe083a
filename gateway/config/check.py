"""Reading tyk.conf: the file's JSON, TYK_GW_* and JSON types per dataclass field, then each key's rules.

Owns every rule a value must meet (ports 1-65535, durations >= 0, Tyk's enums, a listen address that
resolves) and the one-line ConfigError naming the file (or variable), the key and the value. It knows keys
by dotted name only: it must not import the dataclasses (model.py imports it) nor substitute defaults.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gateway.config.outbound import parse_entry
from gateway.errors import ConfigError

PORTS = ("listen_port", "storage.port")
OUTBOUND_LISTS = ("outbound.allow", "outbound.deny")  # each entry as config/outbound.py reads it

# Compared lower-cased where Tyk does (log_level); "" is Tyk's own default where listed.
CHOICES: Mapping[str, tuple[str, ...]] = {
    "log_level": ("", "debug", "info", "warn", "error"),
    "log_format": ("", "text", "json"),
    "storage.type": ("embedded", "redis"),
    # Tyk's "service" (Dashboard) and "rpc" (MDCB) sources need Tyk's licensed components.
    "policies.policy_source": ("", "file"),
    "rate_limit_response_headers": ("", "quotas", "rate_limits"),  # Tyk: anything but rate_limits = quotas
    "store_failure_policy": ("open", "closed"),
    "hash_key_function": ("", "murmur32", "murmur64", "murmur128", "sha256"),  # Tyk's; all in keyhash
    # Tyk stores bcrypt for "" and for a name it does not know; here an unknown name is refused.
    "basic_auth_hash_key_function": ("", "bcrypt", "murmur32", "murmur64", "murmur128", "sha256"),
}
_LOWER_CASED = frozenset({"log_level"})

# key -> (lowest allowed value, unit). Zero is allowed where it means Tyk's default or "off"
# (proxy_default_timeout 0 = 30 s, cached_session_timeout 0 = no cache); a unit of "seconds >" marks a
# duration that must be above the value, as a zero handler timeout would fail every delivery.
MINIMA: Mapping[str, tuple[float, str]] = {
    "proxy_default_timeout": (0, "seconds"),
    "min_token_length": (0, ""),
    "storage.timeout": (0, "seconds"),
    "storage.database": (0, ""),
    "storage.optimisation_max_active": (0, ""),
    "local_session_cache.cached_session_timeout": (0, "seconds"),
    "store_outage_grace": (0, "seconds"),  # 0: a store outage serves no key from the session cache
    "http_server_options.xff_depth": (0, ""),
    "http_server_options.max_header_bytes": (0, ""),  # the listener's limits: 0 = the default
    "http_server_options.max_header_count": (0, ""),
    "http_server_options.max_url_bytes": (0, ""),
    "http_server_options.read_header_timeout": (0, "seconds"),
    "http_server_options.idle_timeout": (0, "seconds"),
    "security.certificate_expiry_monitor.warning_threshold_days": (0, "days"),
    "security.certificate_expiry_monitor.check_cooldown_seconds": (0, "seconds"),
    "security.certificate_expiry_monitor.event_cooldown_seconds": (0, "seconds"),
    "uptime_tests.config.failure_trigger_sample_size": (0, ""),
    "uptime_tests.config.time_wait": (0, "seconds"),
    "uptime_tests.config.checker_pool_size": (0, ""),
    "events.queue_size": (1, ""),
    "events.workers": (1, ""),
    "events.handler_timeout": (0, "seconds >"),
    "events.shutdown_deadline": (0, "seconds"),
    "events.originating_request_body_cap": (0, ""),
    "events.retry_max_attempts": (1, ""),
    "events.retry_max_elapsed": (0, "seconds"),
    "events.retry_base_delay": (0, "seconds"),
    "events.retry_max_delay": (0, "seconds"),
    "events.outbox_claim_idle": (1, "seconds"),
    "events.outbox_hold": (0, ""),
    "events.delivery_concurrency": (1, ""),
    "events.delivery_log_size": (0, ""),
    "events.retention": (0, "seconds"),
    "events.retention_max": (0, ""),
    "events.endpoint_pause.failures": (0, ""),
    "events.endpoint_pause.window": (0, "seconds >"),
    "events.endpoint_pause.probe_interval": (0, "seconds >"),
    "events.target_concurrency": (0, ""),
    "events.target_rate": (0, "per second"),
    "events.key_expiry_scan_interval": (0, "seconds >"),
    "dashboard.session_timeout": (0, "seconds >"),
}


def check_values(cfg: Any, where: str, env: Mapping[str, str]) -> None:
    """Every range and choice rule on a built config; ConfigError for the first value that breaks one."""
    for dotted in PORTS:
        port = _get(cfg, dotted)
        if not 1 <= port <= 65535:
            raise ConfigError(
                _source(dotted, where, env), f'key "{dotted}": expected a port 1-65535, got {port}'
            )
    for dotted, allowed in CHOICES.items():
        value = _get(cfg, dotted)
        if (value.lower() if dotted in _LOWER_CASED else value) not in allowed:
            shown = ", ".join(json.dumps(a) for a in allowed)
            raise ConfigError(
                _source(dotted, where, env), f'key "{dotted}": expected one of {shown}, got {show(value)}'
            )
    for dotted, (low, unit) in MINIMA.items():
        value = _get(cfg, dotted)
        strict = unit.endswith(">")
        if value < low or (strict and value == low):
            wanted = f"{unit.rstrip(' >')} {'>' if strict else '>='} {low}" if unit else f"at least {low}"
            raise ConfigError(
                _source(dotted, where, env), f'key "{dotted}": expected {wanted}, got {show(value)}'
            )
    port = _get(cfg, "metrics.listen_port")  # 0: no port of its own
    if not 0 <= port <= 65535:
        raise ConfigError(
            _source("metrics.listen_port", where, env),
            f'key "metrics.listen_port": expected a port 1-65535, or 0 for none, got {port}',
        )
    if port and not _get(cfg, "metrics.listen_address"):
        raise ConfigError(where, 'key "metrics.listen_address": expected an address, such as "127.0.0.1"')
    for dotted in OUTBOUND_LISTS:
        for i, entry in enumerate(_get(cfg, dotted)):
            try:
                parse_entry(entry)
            except ValueError:
                wanted = 'a network ("10.0.0.0/8"), an address or a host name ("*.internal")'
                raise ConfigError(
                    _source(dotted, where, env), f'key "{dotted}[{i}]": expected {wanted}, got {show(entry)}'
                ) from None
    for i, days in enumerate(_get(cfg, "events.key_expiry_warning_days")):
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError(
                _source("events.key_expiry_warning_days", where, env),
                f'key "events.key_expiry_warning_days[{i}]": expected whole days >= 1, got {show(days)}',
            )
    for host, ref in _get(cfg, "security.certificates.upstream").items():
        if not isinstance(ref, str) or not ref:
            raise ConfigError(
                where, f'key "security.certificates.upstream.{host}": expected a certificate id or path'
            )


def read_json(file: Path) -> dict[str, Any]:
    """The file's top-level JSON object; ConfigError saying what is wrong with the file otherwise."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(file), "file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            str(file), f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text (byte {exc.start})"
        raise ConfigError(str(file), f"cannot read: {reason}") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(file), "the top level must be a JSON object")
    return raw


def check_listen_address(address: str, port: int, where: str) -> None:
    """The address the server will bind must resolve ("" is every interface): checked before serving,
    so a typo is one line here rather than the server's traceback after the startup banner."""
    if not address:
        return
    try:
        socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        wanted = "a host name or address that resolves"
        raise ConfigError(
            where, f'key "listen_address": expected {wanted}, got {show(address)} ({reason})'
        ) from None


def env_name(dotted: str) -> str:
    """Tyk's envconfig rule: TYK_GW_ + Go field names upper-cased; Go names are the JSON keys sans `_`."""
    return "TYK_GW_" + "_".join(p.replace("_", "").upper() for p in dotted.split("."))


def build(cls: type[Any], raw: Mapping[str, Any], where: str, prefix: str, env: Mapping[str, str]) -> Any:
    """`cls` from `raw`, each field type-checked, TYK_GW_* variables winning over the file."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name == "config_dir":
            continue
        dotted = prefix + f.name
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            sub = raw.get(f.name, {})
            if not isinstance(sub, dict):
                raise ConfigError(where, f'key "{dotted}": expected an object, got {show(sub)}')
            values[f.name] = build(hint, sub, where, dotted + ".", env)
            continue
        name = env_name(dotted)
        if name in env:
            values[f.name] = _from_env(hint, env[name], name)
        elif f.name in raw:
            values[f.name] = _check(hint, raw[f.name], where, dotted)
    return cls(**values)


def _check(hint: Any, value: Any, where: str, dotted: str) -> Any:
    base = typing.get_origin(hint) or hint
    ok: bool
    if base is bool:
        ok = isinstance(value, bool)
    elif base is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif base is str:
        ok = isinstance(value, str)
    elif base is dict:
        ok = isinstance(value, dict)
    elif base is list:
        ok = isinstance(value, list)
    elif base is Any:  # a field whose owner validates it (a number or a list, ...)
        ok = True
    else:  # pragma: no cover - a new field type needs a branch here
        raise TypeError(f"unsupported config type {hint!r}")
    if not ok:
        raise ConfigError(where, f'key "{dotted}": expected {_TYPE_NAMES[base]}, got {show(value)}')
    return value


def _from_env(hint: Any, text: str, name: str) -> Any:
    base = typing.get_origin(hint) or hint
    try:
        if base is bool:
            if text.lower() not in ("1", "0", "true", "false"):
                raise ValueError
            return text.lower() in ("1", "true")
        if base is int:
            return int(text)
        if base is float:
            return float(text)
        if base is dict:
            return dict(json.loads(text))
        if base is list:  # JSON, or Tyk's envconfig form: comma-separated (TYK_GW_STORAGE_ADDRS=a:1,b:2)
            return list(json.loads(text)) if text.lstrip().startswith("[") else text.split(",")
        if base is Any:
            return json.loads(text)
    except (ValueError, TypeError):
        raise ConfigError(f"environment {name}", f"expected {_TYPE_NAMES[base]}, got {text!r}") from None
    return text


_TYPE_NAMES = {
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "a string",
    dict: "an object",
    list: "a list",
    Any: "JSON",
}


def show(value: Any) -> str:
    """A value as the user wrote it in JSON (a whole float as an integer: -5.0 was written -5)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _source(dotted: str, where: str, env: Mapping[str, str]) -> str:
    """The file, or the TYK_GW_* variable when the value came from one (it wins over the file)."""
    name = env_name(dotted)
    return f"environment {name}" if name in env else where
