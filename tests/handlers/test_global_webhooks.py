"""Global webhook references and masking, without a gateway: the override rule, how `disabled`
combines, an unknown id, and which fields GET /tyk/webhooks hides."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigError
from gateway.handlers.global_webhooks import MASK, masked, resolve

OPS = {"id": "ops", "method": "POST", "target_path": "http://127.0.0.1:9/ops", "event_timeout": 30}


def test_a_reference_takes_the_global_fields_and_its_own_non_empty_ones_win() -> None:
    meta = {"id": "ops", "target_path": "", "method": "PUT", "event_timeout": 0, "disabled": False}
    got = resolve(meta, {"ops": OPS}, "w")
    assert got["target_path"] == OPS["target_path"] and got["method"] == "PUT"
    assert got["event_timeout"] == 30  # 0 is "not set" in an OAS entry, so the global value stays
    assert got["disabled"] is False


def test_disabled_on_either_side_disables() -> None:
    assert resolve({"id": "ops", "disabled": True}, {"ops": OPS}, "w")["disabled"] is True
    assert resolve({"id": "ops"}, {"ops": {**OPS, "disabled": True}}, "w")["disabled"] is True


def test_an_entry_with_its_own_target_is_not_a_reference() -> None:
    meta = {"id": "ops", "target_path": "http://127.0.0.1:9/own"}
    assert resolve(meta, {}, "w") == meta


def test_an_unknown_id_names_it() -> None:
    with pytest.raises(ConfigError, match="no global webhook 'gone'"):
        resolve({"id": "gone"}, {"ops": OPS}, "apps/a.json $.handler")


def test_masking_hides_secrets_and_credential_headers_only() -> None:
    shown = masked(
        {
            **OPS,
            "signing_secret": "whsec_x",
            "signingSecrets": ["whsec_a", "whsec_b"],
            "header_map": {"Authorization": "Bearer t", "X-Api-Key": "k", "X-Team": "ops"},
        }
    )
    assert shown["signing_secret"] == MASK and shown["signingSecrets"] == [MASK, MASK]
    assert shown["header_map"] == {"Authorization": MASK, "X-Api-Key": MASK, "X-Team": "ops"}
    assert shown["target_path"] == OPS["target_path"]
