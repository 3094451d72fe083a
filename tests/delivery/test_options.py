"""Per-handler delivery options read at load: retry over the tyk.conf defaults, signing secrets, and a
clear ConfigError (naming the field, never printing a secret) for anything out of range."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.apidef import oas
from gateway.delivery import options, signing
from gateway.delivery.model import RetryPolicy
from gateway.delivery.options import retry_policy, signing_secrets
from gateway.errors import ConfigError

DEFAULTS = RetryPolicy(5, 300.0, 1.0, 60.0)


def test_retry_overrides_the_defaults_field_by_field() -> None:
    assert retry_policy({}, DEFAULTS, "w") is DEFAULTS
    assert retry_policy({"retry": {"max_attempts": 2, "maxDelay": 5}}, DEFAULTS, "w") == RetryPolicy(
        2, 300.0, 1.0, 5
    )


@pytest.mark.parametrize(
    ("retry", "named"),
    [
        ({"max_attempts": 0}, "retry.max_attempts"),
        ({"max_attempts": 101}, "retry.max_attempts"),
        ({"max_attempts": 2.5}, "retry.max_attempts"),
        ({"base_delay": -1}, "retry.base_delay"),
        ({"max_elapsed": 90_000}, "retry.max_elapsed"),
        ({"max_delay": "soon"}, "retry.max_delay"),
        ({"base_delay": 10, "max_delay": 5}, "retry.base_delay"),
        ("often", "retry"),
    ],
)
def test_bad_retry_settings_name_the_field(retry: Any, named: str) -> None:
    with pytest.raises(ConfigError, match=named) as caught:
        retry_policy({"retry": retry}, DEFAULTS, "apps/a.json $.event_handlers")
    assert "apps/a.json" in str(caught.value)


def test_signing_secrets_single_and_list() -> None:
    one, two = signing.generate(), signing.generate()
    assert signing_secrets({"signing_secret": one, "signing_secrets": [two]}, "w") == (one, two)
    assert signing_secrets({}, "w") == ()


@pytest.mark.parametrize("secret", ["no-prefix-secret-value", "whsec_not*base64", "whsec_c2hvcnQ="])
def test_bad_secret_is_refused_without_printing_it(secret: str) -> None:
    with pytest.raises(ConfigError, match=r"signing_secrets\[0\]") as caught:
        signing_secrets({"signing_secrets": [secret]}, "w")
    assert secret not in str(caught.value)


def test_oas_event_handler_carries_delivery_options() -> None:
    secret = signing.generate()
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": "o1", "name": "t", "state": {"active": True}},
            "upstream": {"url": "http://127.0.0.1:9"},
            "server": {
                "listenPath": {"value": "/t/"},
                "eventHandlers": [
                    {
                        "enabled": True,
                        "trigger": "QuotaExceeded",
                        "type": "webhook",
                        "url": "http://127.0.0.1:9/hook",
                        "retry": {"maxAttempts": 3},
                        "signingSecrets": [secret],
                        "redactKeys": True,
                        "envelope": "cloudevents",
                        "cooldownMode": "digest",
                    }
                ],
            },
        },
    }
    (handler,) = oas.parse(doc, "o.json").event_handlers
    assert handler.meta["retry"] == {"maxAttempts": 3}
    assert handler.meta["signing_secrets"] == [secret]
    assert handler.meta["redact_keys"] is True
    assert (handler.meta["envelope"], handler.meta["cooldown_mode"]) == ("cloudevents", "digest")


def test_envelope_and_cooldown_mode_default_to_tyk_and_name_a_bad_value() -> None:
    assert (options.envelope({}, "w"), options.cooldown_mode({"cooldownMode": ""}, "w")) == ("tyk", "drop")
    assert options.envelope({"envelope": "cloudevents"}, "w") == "cloudevents"
    assert options.cooldown_mode({"cooldownMode": "digest"}, "w") == "digest"
    with pytest.raises(ConfigError, match=r'"envelope": .*got \'cloud\''):
        options.envelope({"envelope": "cloud"}, "w")
    with pytest.raises(ConfigError, match=r'"cooldown_mode": .*got \'sum\''):
        options.cooldown_mode({"cooldown_mode": "sum"}, "w")
