"""Global webhooks (Tyk's Dashboard keeps them; here tyk.conf `webhooks` and `/tyk/webhooks` in the store):
definitions that OAS `eventHandlers` and Classic webhook handlers reference by `id`.

Owns their shape checks, the store keys (`webhook-def-<id>`), the reference rule (the global definition,
then every non-empty field the API's entry sets) and the masking of secrets for the REST API. Read when
APIs load, never on the request path; it builds no handler itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.errors import ConfigError, StoreError
from gateway.log import get_logger
from gateway.store.base import Store

log = get_logger("webhooks")

PREFIX = "webhook-def-"
MASK = "****"
# Header names whose values are credentials: shown masked by GET /tyk/webhooks.
SECRET_HEADERS = ("authorization", "cookie", "token", "secret", "key", "signature")


def check(raw: Any, where: str) -> dict[str, Any]:
    """A webhook definition's own shape: an object with a string `id` (handler fields are checked by
    building the handler, which names them)."""
    if not isinstance(raw, dict):
        raise ConfigError(where, f"expected a webhook object, got {type(raw).__name__}")
    webhook_id = raw.get("id")
    if not isinstance(webhook_id, str) or not webhook_id.strip() or "/" in webhook_id:
        raise ConfigError(where, f'"id": expected a non-empty name without "/", got {webhook_id!r}')
    return dict(raw)


def from_config(entries: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """tyk.conf `webhooks`, by id; ConfigError naming `webhooks[i]` for a bad or repeated entry."""
    found: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        where = f"tyk.conf webhooks[{i}]"
        webhook = check(entry, where)
        if webhook["id"] in found:
            raise ConfigError(where, f'"id": {webhook["id"]!r} is already defined earlier in the list')
        found[webhook["id"]] = webhook
    return found


async def stored(store: Store) -> dict[str, dict[str, Any]]:
    """The webhooks created through the REST API; an unreadable one is logged and left out."""
    found: dict[str, dict[str, Any]] = {}
    for key in sorted(await store.keys(PREFIX)):
        text = await store.get(key)
        if text is None:
            continue
        try:
            webhook = check(json.loads(text), f"store {key}")
        except (ValueError, ConfigError) as exc:
            log.warning("global webhook %s skipped: %s", key, exc)
            continue
        found[webhook["id"]] = webhook
    return found


async def save(store: Store, webhook: Mapping[str, Any]) -> None:
    await store.set(PREFIX + str(webhook["id"]), json.dumps(webhook, separators=(",", ":")))


async def remove(store: Store, webhook_id: str) -> bool:
    return await store.delete(PREFIX + webhook_id)


async def all_webhooks(store: Store, configured: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every global webhook by id: tyk.conf's win over a stored one of the same id. Store errors are
    logged and leave tyk.conf's alone, so a reload never fails for them."""
    try:
        found = await stored(store)
    except StoreError as exc:
        log.warning("global webhooks in the store unavailable: %s", exc)
        found = {}
    return {**found, **configured}


def reference(meta: Mapping[str, Any]) -> str | None:
    """The global webhook a webhook handler's meta names: an `id` without a `target_path` of its own."""
    webhook_id = meta.get("id")
    return str(webhook_id) if webhook_id and not meta.get("target_path") else None


def resolve(meta: Mapping[str, Any], webhooks: Mapping[str, Mapping[str, Any]], where: str) -> dict[str, Any]:
    """A webhook handler's meta with its global reference filled in: an entry naming one takes the
    global webhook's fields, then every non-empty field of its own."""
    webhook_id = reference(meta)
    if webhook_id is None:
        return dict(meta)
    found = webhooks.get(webhook_id)
    if found is None:
        raise ConfigError(
            where, f'"id": no global webhook {webhook_id!r} (tyk.conf webhooks or /tyk/webhooks)'
        )
    own = {k: v for k, v in meta.items() if v not in ("", None, {}, [], 0) and k != "id"}
    return {**found, **own, "disabled": meta.get("disabled", False) or found.get("disabled", False)}


def masked(webhook: Mapping[str, Any]) -> dict[str, Any]:
    """A definition safe to show: signing secrets and credential-like header values replaced."""
    out = dict(webhook)
    for key in ("signing_secret", "signingSecret"):
        if out.get(key):
            out[key] = MASK
    for key in ("signing_secrets", "signingSecrets"):
        if isinstance(out.get(key), list):
            out[key] = [MASK for _ in out[key]]
    headers = out.get("header_map")
    if isinstance(headers, dict):
        out["header_map"] = {k: MASK if _secret(str(k)) else v for k, v in headers.items()}
    return out


def _secret(header: str) -> bool:
    return any(word in header.lower() for word in SECRET_HEADERS)
