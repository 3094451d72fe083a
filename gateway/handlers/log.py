"""The log handler (Classic `eh_log_handler`, OAS `log`): one warning line per event.

Tyk emits `<prefix>:<Type>`; we keep that start and add the key (redacted unless
`enable_key_logging`), origin and path that Tyk meant to log but drops. Never logs a raw key by default.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ConfigError
from gateway.events.catalog import EventMessage
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.log import get_logger, redact_key

log = get_logger("handlers.log")


class LogHandler:
    kind = "eh_log_handler"

    def __init__(self, prefix: str, scope: HandlerScope, key_logging: bool) -> None:
        self.prefix = prefix
        self.scope = scope
        self.key_logging = key_logging

    @classmethod
    def from_meta(cls, meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> LogHandler:
        prefix = meta.get("prefix", "")
        if not isinstance(prefix, str):
            raise ConfigError(scope.where, f'"prefix": expected a string, got {prefix!r}')
        return cls(prefix, scope, deps.enable_key_logging)

    async def handle(self, msg: EventMessage) -> None:
        fields = msg.meta.go_fields()
        parts = [f"api={msg.api_id}"] if msg.api_id else []
        if fields.get("Key"):
            key = str(fields["Key"])
            parts.append(f"key={key if self.key_logging else redact_key(key)}")
        parts += [f"{name.lower()}={fields[name]}" for name in ("Org", "Origin", "Path") if fields.get(name)]
        extra = {"api_id": msg.api_id, "event": str(msg.type), "handler": self.kind}
        if msg.meta.request_id:
            extra["request_id"] = msg.meta.request_id
        log.warning("%s:%s%s", self.prefix, msg.type, "".join(" " + p for p in parts), extra=extra)
