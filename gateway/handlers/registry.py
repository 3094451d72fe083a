"""The handler registry: REGISTRY maps Tyk's handler names to their factories, and `build` turns a list
of HandlerSpecs into the bus's routes at load time, reporting bad handlers without failing the API.
It must not deliver anything itself; delivery is each handler's `handle`, run by the bus.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.apidef.model import HandlerSpec
from gateway.errors import ConfigError
from gateway.handlers.base import Handler, HandlerDeps, HandlerFactory, HandlerScope
from gateway.handlers.log import LogHandler
from gateway.handlers.webhook import WebhookHandler

REGISTRY: dict[str, HandlerFactory] = {
    WebhookHandler.kind: WebhookHandler.from_meta,
    LogHandler.kind: LogHandler.from_meta,
}


def build(
    specs: Iterable[HandlerSpec], scope: HandlerScope, deps: HandlerDeps
) -> tuple[dict[str, list[Handler]], list[ConfigError]]:
    """Handlers by event name, and one ConfigError per handler that could not be built."""
    routes: dict[str, list[Handler]] = {}
    errors: list[ConfigError] = []
    for spec in specs:
        meta: dict[str, Any] = dict(spec.meta)
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
