"""The handler registry: REGISTRY maps Tyk's handler names to their factories, and `build` turns a list
of HandlerSpecs into the bus's routes at load time (global webhook references filled in), reporting bad
handlers without failing the API. It must not deliver anything itself: each handler's `handle` does,
run by the bus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


REGISTRY: dict[str, HandlerFactory] = {
    WebhookHandler.kind: WebhookHandler.from_meta,
    LogHandler.kind: LogHandler.from_meta,
    "eh_dynamic_handler": dynamic,
    "cp_dynamic_handler": PythonHandler.from_meta,  # Tyk's coprocess handler: Python here
}


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
        if spec.kind == WebhookHandler.kind:
            try:
                meta = global_webhooks.resolve(meta, webhooks or {}, spec.where)
            except ConfigError as exc:
                errors.append(exc)
                continue
        if meta.get("disabled") is True:
            continue
        factory = REGISTRY.get(spec.kind)
        where = HandlerScope(scope.api_id, scope.org_id, spec.where)
        if factory is None:
            known = ", ".join(sorted(REGISTRY))
            errors.append(
                ConfigError(spec.where, f"handler {spec.kind!r} is not supported here (known: {known})")
            )
            continue
        try:
            routes.setdefault(spec.event, []).append(factory(meta, where, deps))
        except ConfigError as exc:
            errors.append(exc)
    return routes, errors
