"""tyk.conf `opentelemetry` (Tyk's OpenTelemetry section): its keys, Tyk's zero-means-default rule, and
the checks a value must pass, each a one-line ConfigError naming the key. With `enabled` it also checks
that the otel extra is installed, by finding its modules without importing them. It must not import
OpenTelemetry nor start anything: gateway/observe/trace.py builds the tracer from this.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gateway.config.check import env_name, show
from gateway.errors import ConfigError

EXPORTERS = ("grpc", "http")
SAMPLERS = ("AlwaysOn", "AlwaysOff", "TraceIDRatioBased")
PROCESSORS = ("batch", "simple")
INSTALL = "pip install 'tyk-mini-gateway[otel]'"
_GRPC_MODULE = "opentelemetry.exporter.otlp.proto.grpc"
_NEEDED = ("opentelemetry.sdk", "opentelemetry.exporter.otlp.proto.http")


@dataclass(frozen=True, slots=True)
class SamplingConfig:
    type: str = ""  # "" is Tyk's AlwaysOn
    rate: float = 0.0  # TraceIDRatioBased's share of traces, 0-1; 0 is Tyk's 0.5
    parent_based: bool = False  # follow the incoming traceparent's sampled flag when there is one


@dataclass(frozen=True, slots=True)
class OpenTelemetryConfig:
    """Zeros are Tyk's defaults (`with_defaults`): grpc to localhost:4317, 1 s, batches of 512 every 5 s
    from a queue of 2,048 spans."""

    enabled: bool = False
    exporter: str = ""
    endpoint: str = ""
    headers: dict[str, Any] = field(default_factory=dict)  # sent with every export
    connection_timeout: float = 0.0  # seconds an export may take
    resource_name: str = ""  # the service.name spans are reported under
    span_processor_type: str = ""
    context_propagation: str = ""
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    batch_size: int = 0  # spans per export
    batch_timeout: int = 0  # milliseconds between exports
    batch_queue_size: int = 0  # spans held for export; more are dropped (and counted)
    batch_export_timeout: int = 0  # milliseconds


def with_defaults(cfg: OpenTelemetryConfig) -> OpenTelemetryConfig:
    """Tyk's SetDefaults: each zero becomes Tyk's default (the resource name is this gateway's)."""
    sampling = cfg.sampling
    kind = sampling.type or "AlwaysOn"
    rate = sampling.rate or (0.5 if kind == "TraceIDRatioBased" else 0.0)
    return dataclasses.replace(
        cfg,
        exporter=cfg.exporter or "grpc",
        endpoint=cfg.endpoint or "localhost:4317",
        connection_timeout=cfg.connection_timeout or 1.0,
        resource_name=cfg.resource_name or "tyk-gateway",
        span_processor_type=cfg.span_processor_type or "batch",
        context_propagation=cfg.context_propagation or "tracecontext",
        sampling=dataclasses.replace(sampling, type=kind, rate=rate),
        batch_size=cfg.batch_size or 512,
        batch_timeout=cfg.batch_timeout or 5000,
        batch_queue_size=cfg.batch_queue_size or 2048,
        batch_export_timeout=cfg.batch_export_timeout or 30000,
    )


def check(cfg: OpenTelemetryConfig, where: str, env: Mapping[str, str]) -> None:
    """ConfigError for the first value that cannot work; with `enabled`, also for a missing package."""

    def fail(key: str, problem: str) -> ConfigError:
        name = env_name(f"opentelemetry.{key}")
        return ConfigError(
            f"environment {name}" if name in env else where, f'key "opentelemetry.{key}": {problem}'
        )

    choices = (
        ("exporter", cfg.exporter, EXPORTERS),
        ("span_processor_type", cfg.span_processor_type, PROCESSORS),
        ("sampling.type", cfg.sampling.type, SAMPLERS),
    )
    for key, value, allowed in choices:
        if value and value not in allowed:
            raise fail(key, f"expected one of {', '.join(map(show, allowed))}, got {show(value)}")
    if cfg.context_propagation not in ("", "tracecontext"):
        why = '"b3" needs a propagator this gateway does not ship' if cfg.context_propagation == "b3" else ""
        raise fail(
            "context_propagation",
            f'expected "tracecontext", got {show(cfg.context_propagation)}' + (f" ({why})" if why else ""),
        )
    if not 0.0 <= cfg.sampling.rate <= 1.0:
        raise fail("sampling.rate", f"expected a number from 0 to 1, got {show(cfg.sampling.rate)}")
    if not (math.isfinite(cfg.connection_timeout) and cfg.connection_timeout >= 0):
        raise fail("connection_timeout", f"expected seconds >= 0, got {show(cfg.connection_timeout)}")
    for key in ("batch_size", "batch_timeout", "batch_queue_size", "batch_export_timeout"):
        if getattr(cfg, key) < 0:
            raise fail(key, f"expected at least 0, got {getattr(cfg, key)}")
    if cfg.batch_size > (cfg.batch_queue_size or 2048):
        raise fail("batch_size", f"expected at most batch_queue_size ({cfg.batch_queue_size or 2048})")
    for name, value in cfg.headers.items():
        if not isinstance(value, str):
            raise fail(f"headers.{name}", f"expected a string, got {show(value)}")
    if cfg.endpoint:
        try:
            endpoint_url(cfg.endpoint)
        except ValueError:
            raise fail(
                "endpoint", f'expected "host:port" or an http(s) URL, got {show(cfg.endpoint)}'
            ) from None
    if not cfg.enabled:
        return
    missing = [name for name in _NEEDED if not _installed(name)]
    if missing:
        raise fail("enabled", f"traces need the otel extra ({', '.join(missing)} missing): {INSTALL}")
    if (cfg.exporter or "grpc") == "grpc" and not _installed(_GRPC_MODULE):
        raise fail(
            "exporter",
            '"grpc" (Tyk\'s default) needs opentelemetry-exporter-otlp-proto-grpc, not installed: '
            'set "http" (OTLP over HTTP, in the otel extra) or install that package',
        )


def endpoint_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: "host:port" (Tyk's form) becomes http://host:port/v1/traces, and a URL
    without a path gets /v1/traces. ValueError when it names no host."""
    url = endpoint if "://" in endpoint else "http://" + endpoint
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(endpoint)
    parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    return url if parts.path not in ("", "/") else url.rstrip("/") + "/v1/traces"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        return False
