"""tyk.conf as frozen dataclasses: the keys this gateway reads, their defaults, and `load`.

Owns the config's shape and Tyk's zero-means-default rules; value rules and TYK_GW_* are config_check's,
warnings for unread keys config_keys' (never an error, so a full Tyk tyk.conf loads). It must not start
anything: building services from the config is app/'s job.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.config import check as config_check
from gateway.config import keys as config_keys
from gateway.config import server as server_config
from gateway.config import storage as config_storage
from gateway.config import telemetry as config_telemetry
from gateway.config.outbound import OutboundConfig
from gateway.config.server import HttpServerOptions
from gateway.config.storage import StorageConfig as StorageConfig  # re-exported: its old home
from gateway.config.telemetry import OpenTelemetryConfig
from gateway.log import get_logger

log = get_logger("config")


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
class EndpointPauseConfig:
    """Not in Tyk: `events.endpoint_pause`, a webhook target's failure budget (delivery/targets.py).

    `failures` failed attempts in a row within `window` seconds pause the target (0 = never pause);
    while paused its deliveries wait in the outbox and one probe is let through every `probe_interval`.
    """

    failures: int = 0
    window: float = 60.0
    probe_interval: float = 30.0


@dataclass(frozen=True, slots=True)
class EventsConfig:
    """Not in Tyk: the bounded event queue and its worker pool (Tyk starts a goroutine per event)."""

    queue_size: int = 10_000
    workers: int = 8
    handler_timeout: float = 30.0
    shutdown_deadline: float = 10.0
    originating_request_body_cap: int = 65_536
    # Reliable delivery (not in Tyk): the defaults of every webhook, each overridable per handler.
    # The retry defaults span an hour (the budget ends retrying, not the count): delivery/model.py.
    retry_max_attempts: int = 40  # attempts in all, the first included; 1 = never retry
    retry_max_elapsed: float = 3600.0  # no attempt starts later than this after the event was accepted
    retry_base_delay: float = 1.0  # full-jitter backoff: a wait in [0, min(max, base * 2**n)]
    retry_max_delay: float = 600.0
    outbox: bool = True  # accepted webhook deliveries survive a restart (Redis Stream, or a file)
    outbox_consumer: str = ""  # Redis consumer name, stable across restarts; "" = host name + port
    # Another gateway's unfinished delivery is taken over after this (and a scan, 15 s): a dead gateway's
    # resume within about 45 s. A live owner's heartbeat (every third of it) keeps one waiting out a
    # 600 s backoff from looking idle.
    outbox_claim_idle: float = 30.0
    outbox_hold: int = 10_000  # deliveries kept in memory while the outbox cannot be written
    delivery_concurrency: int = 64  # attempts on the wire at once (waiting retries hold none)
    delivery_log_size: int = 100  # last attempts kept per API and handler for GET /tyk/webhooks/deliveries
    redact_keys_in_payloads: bool = False  # Tyk sends raw keys in payloads; true sends them redacted
    # Dead letters and replay (not in Tyk): deliveries (their attempts and bodies) and accepted events
    # are kept this long, at most `retention_max` of each, shared on Redis; 0 keeps none.
    retention: float = 86_400.0
    retention_max: int = 100_000
    endpoint_pause: EndpointPauseConfig = field(default_factory=EndpointPauseConfig)
    target_concurrency: int = 16  # attempts on the wire at once per target (scheme, host, port); 0 = no cap
    target_rate: float = 0.0  # attempts per second per target; 0 = no rate
    key_expiry_warning_days: list[int] = field(default_factory=list)  # KeyExpiringSoon; [] = no scan
    key_expiry_scan_interval: float = 3_600.0  # seconds between scans of the keys' expiry


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
    `cached_session_timeout` seconds, dropped at once when any gateway changes them (identity/cache.py)."""

    disable_cached_session_state: bool = False
    cached_session_timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class PoliciesConfig:
    """tyk.conf `policies`: Tyk's file source (`policy_source` "file" or empty; the Dashboard and RPC
    sources are refused by name). `policy_path`, a folder of one policy per file that /tyk/policies
    manages, wins over `policy_record_name`, one JSON file of policies by id. Both resolve against the
    config file's folder."""

    policy_source: str = ""
    policy_record_name: str = ""
    policy_path: str = ""
    allow_explicit_policy_id: bool = False


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """Not in Tyk: `metrics`, Prometheus text at /metrics (gateway/observe/). Off by default; on, it is
    served on the gateway's listener behind the admin secret and, with `listen_port`, also on a port of
    its own at `listen_address` (loopback by default) without the secret, for a scraper."""

    enabled: bool = False
    listen_port: int = 0  # 0: no port of its own
    listen_address: str = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DashboardConfig:
    """Not in Tyk (its Dashboard is a product of its own): `dashboard`, the pages under /dashboard/ on the
    gateway's listener (gateway/dashboard/), signed in with the admin secret. Off by default."""

    enabled: bool = False
    session_timeout: float = 3600.0  # seconds a sign-in lasts


@dataclass(frozen=True, slots=True)
class Config:
    listen_address: str = ""
    listen_port: int = 8080
    secret: str = ""  # empty refuses every admin call: never a published default on a listening port
    app_path: str = "apps"
    template_path: str = "templates"
    middleware_path: str = "middleware"
    storage: StorageConfig = field(default_factory=StorageConfig)
    policies: PoliciesConfig = field(default_factory=PoliciesConfig)
    local_session_cache: LocalSessionCacheConfig = field(default_factory=LocalSessionCacheConfig)
    hash_keys: bool = False
    hash_key_function: str = ""
    basic_auth_hash_key_function: str = ""  # how basic-auth passwords are stored; "" = bcrypt
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
    # Not in Tyk: failing open, seconds of a store outage that cached keys are served (identity/cache.py).
    store_outage_grace: float = 60.0
    events: EventsConfig = field(default_factory=EventsConfig)
    uptime_tests: UptimeTestsConfig = field(default_factory=UptimeTestsConfig)
    # Not in Tyk: where webhooks, uptime checks, JWKS and token requests may go (config/outbound.py).
    outbound: OutboundConfig = field(default_factory=OutboundConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # not in Tyk: Prometheus /metrics
    opentelemetry: OpenTelemetryConfig = field(default_factory=OpenTelemetryConfig)  # Tyk's traces
    dashboard: DashboardConfig = field(default_factory=DashboardConfig)  # not in Tyk: /dashboard/
    log_level: str = "info"
    log_format: str = ""  # Tyk's: "json" writes one JSON object a line; "" (or "text") the text lines
    config_dir: str = "."  # where relative paths resolve; set by load(), never read from the file


def load(
    path: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> Config:
    """Read a tyk.conf, apply TYK_GW_* overrides and resolve relative paths against its folder.
    Each key this gateway does not read goes to `warn` (default: a log warning), once."""
    file = Path(path)
    raw = config_check.read_json(file)
    env = os.environ if environ is None else environ
    if env.get("TYK_GW_OMITCONFIGFILE", "").lower() in ("1", "true"):
        raw = {}
    return from_dict(raw, where=str(file), base_dir=file.resolve().parent, environ=env, warn=warn)


def from_dict(
    raw: Mapping[str, Any],
    where: str = "tyk.conf",
    base_dir: str | os.PathLike[str] = ".",
    environ: Mapping[str, str] | None = None,
    *,
    warn: Callable[[str], None] | None = None,
) -> Config:
    """Build a Config from a dict (the same checks as a file); used by load() and by test helpers."""
    env = dict(environ or {})
    cfg: Config = config_check.build(Config, raw, where, "", env)
    config_check.check_values(cfg, where, env)
    config_telemetry.check(cfg.opentelemetry, where, env)
    for line in [*config_keys.review(raw, Config, where), *config_storage.review(cfg.storage, where, env)]:
        if warn is None:
            log.warning("%s", line)
        else:
            warn(line)
    base = Path(base_dir).resolve()
    return dataclasses.replace(
        cfg,
        uptime_tests=_uptime_defaults(cfg.uptime_tests),
        security=_security(cfg.security),
        http_server_options=server_config.with_defaults(cfg.http_server_options),
        # Tyk's rule: 0 (as real tyk.conf files carry it) means the 30 s default, never "no timeout".
        proxy_default_timeout=cfg.proxy_default_timeout or 30.0,
        app_path=str((base / cfg.app_path).resolve()),
        template_path=str((base / cfg.template_path).resolve()),
        middleware_path=str((base / cfg.middleware_path).resolve()),
        storage=config_storage.resolved(cfg.storage, base),
        policies=_policies(cfg.policies, base),
        opentelemetry=config_telemetry.with_defaults(cfg.opentelemetry),
        config_dir=str(base),
    )


def _policies(policies: PoliciesConfig, base: Path) -> PoliciesConfig:
    """Policy files resolve against the config file's folder; unset stays unset (no policies)."""
    return dataclasses.replace(
        policies,
        policy_record_name=str((base / policies.policy_record_name).resolve())
        if policies.policy_record_name
        else "",
        policy_path=str((base / policies.policy_path).resolve()) if policies.policy_path else "",
    )


def _uptime_defaults(uptime: UptimeTestsConfig) -> UptimeTestsConfig:
    """Tyk substitutes its defaults for zeros in code (negative values never get here)."""
    opts = uptime.config
    opts = dataclasses.replace(
        opts,
        failure_trigger_sample_size=opts.failure_trigger_sample_size or 3,
        time_wait=opts.time_wait or 10.0,
        checker_pool_size=opts.checker_pool_size or os.cpu_count() or 1,
    )
    return dataclasses.replace(uptime, config=opts)


def _security(security: SecurityConfig) -> SecurityConfig:
    """Tyk's rule for the expiry monitor: 0 means the default (negative values never get here)."""
    monitor = security.certificate_expiry_monitor
    values: dict[str, Any] = {}
    for f in dataclasses.fields(monitor):
        value = getattr(monitor, f.name)
        values[f.name] = value if isinstance(value, bool) else value or f.default
    return dataclasses.replace(security, certificate_expiry_monitor=CertificateExpiryMonitorConfig(**values))
