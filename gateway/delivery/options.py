"""A webhook handler's delivery options, read from its meta at load: the retry policy, signing secrets,
the body's envelope and the cooldown mode.

Classic handler_meta and OAS eventHandlers both arrive here as meta: `retry` (an object of
max_attempts / max_elapsed / base_delay / max_delay, OAS camelCase accepted) over the tyk.conf
defaults, `signing_secrets` (a list) or `signing_secret`, `envelope` and `cooldown_mode`. Out-of-range
values are ConfigErrors naming the field and value; this module never sends anything.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway.delivery import signing
from gateway.delivery.model import RetryPolicy
from gateway.errors import ConfigError

# field -> (camelCase alias, lowest, highest): a day of retrying is the most anyone needs to ask for.
LIMITS: dict[str, tuple[str, float, float]] = {
    "max_attempts": ("maxAttempts", 1, 100),
    "max_elapsed": ("maxElapsed", 0, 86_400),
    "base_delay": ("baseDelay", 0, 3_600),
    "max_delay": ("maxDelay", 0, 86_400),
}


def retry_policy(meta: dict[str, Any], defaults: RetryPolicy, where: str) -> RetryPolicy:
    raw = meta.get("retry")
    if raw is None:
        return defaults
    if not isinstance(raw, dict):
        raise ConfigError(where, f'"retry": expected an object, got {raw!r}')
    values: dict[str, Any] = {}
    for name, (alias, low, high) in LIMITS.items():
        value = raw.get(name, raw.get(alias))
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ConfigError(where, f'"retry.{name}": expected a number from {low} to {high}, got {value!r}')
        if name == "max_attempts":
            if not float(value).is_integer():
                raise ConfigError(where, f'"retry.max_attempts": expected a whole number, got {value!r}')
            value = int(value)
        values[name] = value
    policy = dataclasses.replace(defaults, **values)
    if policy.base_delay > policy.max_delay:
        raise ConfigError(
            where, f'"retry.base_delay" ({policy.base_delay}) is above "retry.max_delay" ({policy.max_delay})'
        )
    return policy


def signing_secrets(meta: dict[str, Any], where: str) -> tuple[str, ...]:
    """The signing secrets, newest first; every one is checked to be a usable `whsec_` secret or `whsk_`
    secret key."""
    many = meta.get("signing_secrets", meta.get("signingSecrets"))
    one = meta.get("signing_secret", meta.get("signingSecret"))
    found: list[Any] = []
    if many is not None:
        if not isinstance(many, list):
            raise ConfigError(
                where, f'"signing_secrets": expected a list of secrets, got {type(many).__name__}'
            )
        found += many
    if one not in (None, ""):
        found.insert(0, one)
    for i, secret in enumerate(found):
        if not isinstance(secret, str):
            raise ConfigError(
                where, f'"signing_secrets[{i}]": expected a string, got {type(secret).__name__}'
            )
        try:
            signing.secret_key(secret)
        except ValueError as exc:
            # The value itself is a credential: name its position, never print it.
            raise ConfigError(where, f'"signing_secrets[{i}]": {exc}') from None
    return tuple(found)


ENVELOPES = ("tyk", "cloudevents")  # "tyk": the template's output as the body, as Tyk sends it
COOLDOWN_MODES = ("drop", "digest")  # "drop": Tyk's cooldown, identical events within it are not sent


def envelope(meta: dict[str, Any], where: str) -> str:
    """`envelope`: "tyk" (absent or "" too) or "cloudevents" (CloudEvents 1.0 structured mode)."""
    return _choice(meta, "envelope", "envelope", ENVELOPES, where)


def cooldown_mode(meta: dict[str, Any], where: str) -> str:
    """`cooldown_mode` (OAS `cooldownMode`): "drop" (absent or "" too) or "digest"."""
    return _choice(meta, "cooldown_mode", "cooldownMode", COOLDOWN_MODES, where)


def _choice(meta: dict[str, Any], name: str, alias: str, allowed: tuple[str, ...], where: str) -> str:
    value = meta.get(name, meta.get(alias))
    if value in (None, ""):
        return allowed[0]
    if value not in allowed:
        raise ConfigError(where, f'"{name}": expected one of {list(allowed)}, got {value!r}')
    return str(value)
