"""The webhook form: a global webhook as the form shows it (secrets masked, headers one per line) and the
submitted fields back into a definition, with one message per wrong field.

Pure: no I/O. The definition is then checked by the gateway as its handler would be built (the REST
API's `check_webhook`), whose message is placed on the field it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import FormData

from gateway.dashboard.common import text
from gateway.handlers import global_webhooks

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FIELDS = ("name", "method", "target_path", "headers", "event_timeout")
# The definition's key each form field becomes, for placing the gateway's own messages.
KEYS = {"name": "name", "method": "method", "target_path": "target_path", "header_map": "headers",
        "event_timeout": "event_timeout"}  # fmt: skip


def shown_target(url: Any) -> str:
    """A target without its userinfo or query (where a credential could ride), as the table shows it."""
    if not isinstance(url, str):
        return ""
    split = urlsplit(url)
    if not split.scheme or not split.hostname:
        return url
    port = f":{split.port}" if split.port else ""
    return f"{split.scheme}://{split.hostname}{port}{split.path}" + ("?…" if split.query else "")


def values_of(webhook: Mapping[str, Any]) -> dict[str, str]:
    """The form's fields for a stored webhook, credential-like header values masked."""
    shown = global_webhooks.masked(webhook)
    headers: dict[str, Any] = shown["header_map"] if isinstance(shown.get("header_map"), dict) else {}
    timeout = webhook.get("event_timeout")
    return {
        "name": str(webhook.get("name") or ""),
        "method": str(webhook.get("method") or "POST").upper(),
        "target_path": str(webhook.get("target_path") or ""),
        "headers": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        "event_timeout": "" if timeout in (None, "") else str(timeout),
    }


def parse(form: FormData, stored: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
    """(the definition, the fields as typed, an error per wrong field). The definition keeps the stored
    webhook's other keys (signing secrets, template) and a masked header value left as it was."""
    values = {name: text(form, name) for name in FIELDS}
    values["headers"] = str(form.get("headers") or "").strip()
    errors: dict[str, str] = {}
    if not values["name"]:
        errors["name"] = "Name is required."
    method = values["method"].upper()
    if method not in METHODS:
        errors["method"] = f"Method must be one of {', '.join(METHODS)}."
    if not values["target_path"]:
        errors["target_path"] = "Target URL is required (an absolute http:// or https:// URL)."
    old: dict[str, Any] = stored["header_map"] if isinstance(stored.get("header_map"), dict) else {}
    headers: dict[str, str] = {}
    for number, line in enumerate(values["headers"].splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or any(c in name for c in " \t"):
            errors["headers"] = f"Line {number}: expected `Name: value`, got {line.strip()!r}."
            break
        name, value = name.strip(), value.strip()
        # The form shows a credential masked: left unchanged, the stored value stays.
        headers[name] = str(old[name]) if value == global_webhooks.MASK and name in old else value
    timeout: int | None = None
    if values["event_timeout"]:
        try:
            timeout = int(values["event_timeout"])
        except ValueError:
            timeout = -1
        if timeout < 0:
            errors["event_timeout"] = "Cooldown must be whole seconds, 0 or more (or left empty)."
    webhook = {
        **stored,
        "name": values["name"],
        "method": method,
        "target_path": values["target_path"],
        "header_map": headers,
    }
    webhook.pop("event_timeout", None)
    if timeout is not None:
        webhook["event_timeout"] = timeout
    return webhook, values, errors


def field_of(reason: str) -> str:
    """The form field a gateway message names (`"target_path": ...`); "form" when it names none."""
    for key, name in KEYS.items():
        if f'"{key}"' in reason:
            return name
    return "form"
