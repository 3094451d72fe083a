"""tyk.conf as frozen dataclasses, with Tyk's TYK_GW_* environment overrides.

Owns reading, type-checking and defaulting the gateway config; a bad file is a ConfigError naming the
file and the key. It must not start anything: building services from the config is app.py's job.
Unknown keys are ignored, as Tyk ignores them, so a full Tyk tyk.conf loads unchanged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.errors import ConfigError


@dataclass(frozen=True, slots=True)
class StorageConfig:
    type: str = "embedded"  # Tyk's only value is "redis"; "embedded" (our default) needs no server
    host: str = "localhost"
    port: int = 6379
    username: str = ""
    password: str = ""
    database: int = 0
    timeout: float = 5.0
    optimisation_max_active: int = 500
    path: str = "data"  # embedded store: folder of its journal, relative to the config file


@dataclass(frozen=True, slots=True)
class HttpServerOptions:
    xff_depth: int = 0
    read_timeout: int = 0
    write_timeout: int = 0
    use_ssl: bool = False
    certificates: list[Any] = field(default_factory=list)  # [{domain_name, cert_file, key_file}]
    ssl_certificates: list[Any] = field(default_factory=list)  # certificate ids or PEM file paths


@dataclass(frozen=True, slots=True)
class CertificateExpiryMonitorConfig:
    """Tyk's `security.certificate_expiry_monitor`: 0 means the default, as in Tyk."""

    warning_threshold_days: int = 30
    check_cooldown_seconds: int = 3600
    event_cooldown_seconds: int = 86400
    # Not in Tyk: also check every configured certificate when APIs load and every check-cooldown
    # interval, not only those a request used (so an unused certificate is reported before it is needed).
    scan_configured: bool = True


@dataclass(frozen=True, slots=True)
class CertificatesConfig:
    apis: list[Any] = field(default_factory=list)  # allowed for every mutual TLS API
    upstream: dict[str, Any] = field(default_factory=dict)  # host or "*" -> certificate id or path


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    certificate_expiry_monitor: CertificateExpiryMonitorConfig = field(
        default_factory=CertificateExpiryMonitorConfig
    )
    certificates: CertificatesConfig = field(default_factory=CertificatesConfig)


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """Not in Tyk: the bounded event queue and its worker pool (Tyk starts a goroutine per event)."""

    queue_size: int = 10_000
    workers: int = 8
    handler_timeout: float = 30.0
    shutdown_deadline: float = 10.0
    originating_request_body_cap: int = 65_536
    # Reliable delivery (not in Tyk): the defaults of every webhook, each overridable per handler.
    retry_max_attempts: int = 5  # attempts in all, the first included; 1 = never retry
    retry_max_elapsed: float = 300.0  # no attempt starts later than this after the event was accepted
    retry_base_delay: float = 1.0  # full-jitter backoff: a wait in [0, min(max, base * 2**n)]
    retry_max_delay: float = 60.0
    outbox: bool = True  # accepted webhook deliveries survive a restart (Redis Stream, or a file)
    outbox_consumer: str = ""  # Redis consumer name, stable across restarts; "" = host name + port
    outbox_claim_idle: float = 600.0  # another gateway's unfinished delivery is taken over after this
    delivery_concurrency: int = 64  # deliveries in flight at once, retries waiting included
    delivery_log_size: int = 100  # last attempts kept per API and handler for GET /tyk/webhooks/deliveries
    redact_keys_in_payloads: bool = False  # Tyk sends raw keys in payloads; true sends them redacted


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """tyk.conf `monitor`: the quota trigger monitor (TriggerExceeded), all off by default as in Tyk.

    `configuration` is a webhook handler's meta; `global_trigger_limit` is a percentage (0 = none) or,
    not in Tyk, a list of percentages.
    """

    enable_trigger_monitors: bool = False
    configuration: dict[str, Any] = field(default_factory=dict)
    global_trigger_limit: Any = 0.0
    monitor_user_keys: bool = False
    monitor_org_keys: bool = False


@dataclass(frozen=True, slots=True)
class UptimeTestsOptions:
    """tyk.conf `uptime_tests.config`; zeros become Tyk's defaults in from_dict (3, 10 s, CPU count).

    `time_wait` is an integer in Tyk; a fraction of a second is accepted here (tests use 0.2 s).
    `enable_uptime_analytics` is read and ignored: this gateway records no analytics.
    """

    failure_trigger_sample_size: int = 0
    time_wait: float = 0.0
    checker_pool_size: int = 0
    enable_uptime_analytics: bool = False


@dataclass(frozen=True, slots=True)
class UptimeTestsConfig:
    """tyk.conf `uptime_tests`: the host checker runs unless `disable` is true."""

    disable: bool = False
    poller_group: str = ""
    config: UptimeTestsOptions = field(default_factory=UptimeTestsOptions)


@dataclass(frozen=True, slots=True)
class LocalSessionCacheConfig:
    """Tyk's `local_session_cache`: on Redis, sessions read by requests are kept in the process for
    `cached_session_timeout` seconds, dropped at once when any gateway changes them (session_cache)."""

    disable_cached_session_state: bool = False
    cached_session_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class Config:
    listen_address: str = ""
    listen_port: int = 8080
    secret: str = ""  # empty refuses every admin call: never a published default on a listening port
    app_path: str = "apps"
    template_path: str = "templates"
    middleware_path: str = "middleware"
    storage: StorageConfig = field(default_factory=StorageConfig)
    local_session_cache: LocalSessionCacheConfig = field(default_factory=LocalSessionCacheConfig)
    hash_keys: bool = False
    hash_key_function: str = ""
    enable_hashed_keys_listing: bool = False
    min_token_length: int = 3
    enable_key_logging: bool = False
    allow_master_keys: bool = False
    event_handlers: dict[str, Any] = field(default_factory=dict)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    # Not in Tyk (its Dashboard keeps them): webhooks OAS definitions reference by "id".
    webhooks: list[Any] = field(default_factory=list)
    rate_limit_response_headers: str = "quotas"
    enable_rate_limit_smoothing: bool = False
    enforce_org_quotas: bool = False
    proxy_default_timeout: float = 30.0
    hide_generator_header: bool = False
    close_connections: bool = False
    health_check_endpoint_name: str = "hello"
    http_server_options: HttpServerOptions = field(default_factory=HttpServerOptions)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    store_failure_policy: str = "closed"  # not in Tyk: "closed" answers 500 as Tyk does, "open" lets through
    events: EventsConfig = field(default_factory=EventsConfig)
    uptime_tests: UptimeTestsConfig = field(default_factory=UptimeTestsConfig)
    log_level: str = "info"
    config_dir: str = "."  # where relative paths resolve; set by load(), never read from the file


_CHOICES = {
    "storage.type": ("embedded", "redis"),
    "rate_limit_response_headers": ("quotas", "rate_limits"),
    "store_failure_policy": ("open", "closed"),
}


_EVENTS_MINIMA = {
    "retry_max_attempts": 1,
    "retry_max_elapsed": 0,
    "retry_base_delay": 0,
    "retry_max_delay": 0,
    "outbox_claim_idle": 1,
    "delivery_concurrency": 1,
    "delivery_log_size": 0,
}


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Config:
    """Read a tyk.conf, apply TYK_GW_* overrides and resolve relative paths against its folder."""
    file = Path(path)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(file), "file not found") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(
            str(file), f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except OSError as exc:
        raise ConfigError(str(file), f"cannot read: {exc.strerror}") from None
    if not isinstance(raw, dict):
        raise ConfigError(str(file), "the top level must be a JSON object")
    env = os.environ if environ is None else environ
    if env.get("TYK_GW_OMITCONFIGFILE", "").lower() in ("1", "true"):
        raw = {}
    return from_dict(raw, where=str(file), base_dir=file.resolve().parent, environ=env)


def from_dict(
    raw: Mapping[str, Any],
    where: str = "tyk.conf",
    base_dir: str | os.PathLike[str] = ".",
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Build a Config from a dict (the same checks as a file); used by load() and by test helpers."""
    cfg: Config = _build(Config, raw, where, "", dict(environ or {}))
    base = Path(base_dir).resolve()
    storage = dataclasses.replace(cfg.storage, path=str((base / cfg.storage.path).resolve()))
    for dotted, allowed in _CHOICES.items():
        obj: Any = cfg
        for part in dotted.split("."):
            obj = getattr(obj, part)
        if obj not in allowed:
            raise ConfigError(where, f'key "{dotted}": expected one of {list(allowed)}, got {obj!r}')
    events = cfg.events
    for name in ("queue_size", "workers"):
        if getattr(events, name) < 1:
            raise ConfigError(where, f'key "events.{name}": expected at least 1, got {getattr(events, name)}')
    if events.handler_timeout <= 0 or events.shutdown_deadline < 0:
        raise ConfigError(where, 'keys "events.handler_timeout" (> 0) and "events.shutdown_deadline" (>= 0)')
    for name, low in _EVENTS_MINIMA.items():
        if getattr(events, name) < low:
            raise ConfigError(
                where, f'key "events.{name}": expected at least {low}, got {getattr(events, name)}'
            )
    return dataclasses.replace(
        cfg,
        uptime_tests=_uptime_defaults(cfg.uptime_tests, where),
        security=_security(cfg.security, where),
        # Tyk's rule: 0 (as real tyk.conf files carry it) means the 30 s default, never "no timeout".
        proxy_default_timeout=cfg.proxy_default_timeout if cfg.proxy_default_timeout > 0 else 30.0,
        app_path=str((base / cfg.app_path).resolve()),
        template_path=str((base / cfg.template_path).resolve()),
        middleware_path=str((base / cfg.middleware_path).resolve()),
        storage=storage,
        config_dir=str(base),
    )


def _uptime_defaults(uptime: UptimeTestsConfig, where: str) -> UptimeTestsConfig:
    """Tyk substitutes its defaults for zeros in code; negative values are refused here."""
    opts = uptime.config
    for name in ("failure_trigger_sample_size", "time_wait", "checker_pool_size"):
        if getattr(opts, name) < 0:
            raise ConfigError(
                where, f'key "uptime_tests.config.{name}": expected >= 0, got {getattr(opts, name)}'
            )
    opts = dataclasses.replace(
        opts,
        failure_trigger_sample_size=opts.failure_trigger_sample_size or 3,
        time_wait=opts.time_wait or 10.0,
        checker_pool_size=opts.checker_pool_size or os.cpu_count() or 1,
    )
    return dataclasses.replace(uptime, config=opts)


def _security(security: SecurityConfig, where: str) -> SecurityConfig:
    """Tyk's rule for the expiry monitor: 0 means the default; a negative value is a mistake."""
    monitor = security.certificate_expiry_monitor
    values: dict[str, Any] = {}
    for f in dataclasses.fields(monitor):
        value = getattr(monitor, f.name)
        if isinstance(value, bool):
            values[f.name] = value
            continue
        if value < 0:
            raise ConfigError(
                where, f'key "security.certificate_expiry_monitor.{f.name}": expected >= 0, got {value}'
            )
        values[f.name] = value or f.default
    for host, ref in security.certificates.upstream.items():
        if not isinstance(ref, str) or not ref:
            raise ConfigError(
                where, f'key "security.certificates.upstream.{host}": expected a certificate id or path'
            )
    return dataclasses.replace(security, certificate_expiry_monitor=CertificateExpiryMonitorConfig(**values))


def env_name(dotted: str) -> str:
    """Tyk's envconfig rule: TYK_GW_ + Go field names upper-cased; Go names are the JSON keys sans `_`."""
    return "TYK_GW_" + "_".join(p.replace("_", "").upper() for p in dotted.split("."))


def _build(cls: type[Any], raw: Mapping[str, Any], where: str, prefix: str, env: dict[str, str]) -> Any:
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
                raise ConfigError(where, f'key "{dotted}": expected an object, got {_show(sub)}')
            values[f.name] = _build(hint, sub, where, dotted + ".", env)
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
        raise ConfigError(where, f'key "{dotted}": expected {_TYPE_NAMES[base]}, got {_show(value)}')
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
        if base is list:
            return list(json.loads(text))
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


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, types.NoneType) else "null"
    return text if len(text) <= 60 else text[:57] + "..."
