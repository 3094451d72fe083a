"""The handler registry: KINDS, the one list of handler kinds, by Tyk's Classic handler_name and OAS
`type` (REGISTRY finds either), each with its factory; and `build`, which turns a list
of HandlerSpecs into the bus's routes at load time (global webhook references filled in), reporting bad
handlers without failing the API. It must not deliver anything itself: each handler's `handle` does,
run by the bus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.apidef.model import HandlerSpec
from gateway.errors import ConfigError
from gateway.handlers import global_webhooks
from gateway.handlers.base import Handler, HandlerDeps, HandlerFactory, HandlerScope
from gateway.handlers.custom import PythonHandler
from gateway.handlers.js import JSHandler
from gateway.handlers.log import LogHandler
from gateway.handlers.webhook import WebhookHandler


def dynamic(meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> Handler:
    """Tyk's `eh_dynamic_handler` (OAS `custom`): Python for a `.py` file, else Tyk's JavaScript."""
    path = meta.get("path")
    if isinstance(path, str) and path.endswith(".py"):
        return PythonHandler.from_meta(meta, scope, deps)
    return JSHandler.from_meta(meta, scope, deps)


@dataclass(frozen=True, slots=True)
class Kind:
    """One handler kind: Tyk's Classic handler_name, its OAS `type` (None: Classic only), its factory."""

    classic: str
    oas: str | None
    factory: HandlerFactory


# The one list of handler kinds, by both the names a definition may give them.
KINDS = (
    Kind(WebhookHandler.kind, "webhook", WebhookHandler.from_meta),
    Kind(LogHandler.kind, "log", LogHandler.from_meta),
    Kind("eh_dynamic_handler", "custom", dynamic),
    Kind("cp_dynamic_handler", None, PythonHandler.from_meta),  # Tyk's coprocess handler: Python here
)
REGISTRY: dict[str, Kind] = {name: k for k in KINDS for name in (k.classic, k.oas) if name}


def classic_name(kind: str) -> str:
    """The Classic handler_name of a kind given by either name (an unknown one as given)."""
    found = REGISTRY.get(kind)
    return found.classic if found is not None else kind


def build(
    specs: Iterable[HandlerSpec],
    scope: HandlerScope,
    deps: HandlerDeps,
    webhooks: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[dict[str, list[Handler]], list[ConfigError]]:
    """Handlers by event name, and one ConfigError per handler that could not be built. `webhooks` are
    the global webhooks a webhook handler may reference by `id`."""
    routes: dict[str, list[Handler]] = {}
    errors: list[ConfigError] = []
    for spec in specs:
        meta: dict[str, Any] = dict(spec.meta)
        if classic_name(spec.kind) == WebhookHandler.kind:
            try:
                meta = global_webhooks.resolve(meta, webhooks or {}, spec.where)
            except ConfigError as exc:
                errors.append(exc)
                continue
        if meta.get("disabled") is True:
            continue
        kind = REGISTRY.get(spec.kind)
        where = HandlerScope(scope.api_id, scope.org_id, spec.where)
        if kind is None:
            known = ", ".join(sorted(REGISTRY))
            errors.append(
                ConfigError(spec.where, f"handler {spec.kind!r} is not supported here (known: {known})")
            )
            continue
        try:
            routes.setdefault(spec.event, []).append(kind.factory(meta, where, deps))
        except ConfigError as exc:
            errors.append(exc)
    return routes, errors
