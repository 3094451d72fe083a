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
            errors.append(ConfigError(spec.where, f"handler {spec.kind!r} is not supported here (known: {known})"))
            continue
        try:
            routes.setdefault(spec.event, []).append(factory(meta, where, deps))
        except ConfigError as exc:
            errors.append(exc)
    return routes, errors


def specs_from_classic(raw: Any, where: str) -> list[HandlerSpec]:
    """Tyk's Classic `event_handlers` shape (as in tyk.conf) into HandlerSpecs; ConfigError if malformed."""
    if raw in (None, {}):
        return []
    events = raw.get("events") if isinstance(raw, dict) else None
    if not isinstance(events, dict):
        raise ConfigError(where, f'"events": expected an object of event name -> handler list, got {events!r}')
    out: list[HandlerSpec] = []
    for event, entries in events.items():
        if not isinstance(entries, list):
            raise ConfigError(where, f'"events.{event}": expected a list, got {entries!r}')
        for i, entry in enumerate(entries):
            path = f"{where} events.{event}[{i}]"
            if not isinstance(entry, dict) or not isinstance(entry.get("handler_name"), str):
                raise ConfigError(path, f'expected an object with a string "handler_name", got {entry!r}')
            meta = entry.get("handler_meta") or {}
            if not isinstance(meta, dict):
                raise ConfigError(path, f'"handler_meta": expected an object, got {meta!r}')
            out.append(HandlerSpec(event=event, kind=entry["handler_name"], meta=meta, where=path))
    return out
