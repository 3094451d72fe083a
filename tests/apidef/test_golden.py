"""Golden pairs: a Classic and an OAS file describing the same API parse to the same APISpec, and the
shipped examples in gateway/examples/apps/ load as docs/events.md and the README describe them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from gateway.apidef.loader import load_dir, parse
from gateway.apidef.model import APISpec, AuthTokenSpec, HandlerSpec, RateSpec
from gateway.handlers.registry import classic_name
from gateway.packaged import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "data" / "apps"
PAIRS = sorted(p.name.removesuffix(".classic.json") for p in GOLDEN.glob("*.classic.json"))


def load(path: Path) -> APISpec:
    return parse(json.loads(path.read_text()), path.name)


def comparable(spec: APISpec) -> APISpec:
    """What must agree between the formats: all but the file, the format and the JSON paths."""
    # OAS names a kind by its type, Classic by its handler_name: the registry holds both for one kind.
    handlers = tuple(dataclasses.replace(h, where="", kind=classic_name(h.kind)) for h in spec.event_handlers)
    return dataclasses.replace(spec, source="", format="", raw={}, event_handlers=handlers)


def test_there_are_golden_pairs() -> None:
    assert {
        "keyless-ratelimit-webhook",
        "authtoken-sources",
        "authtoken-query-only",
        "circuit-breakers",
    } <= set(PAIRS)
    for name in PAIRS:
        assert (GOLDEN / f"{name}.oas.json").is_file(), f"{name} has no OAS twin"


@pytest.mark.parametrize("name", PAIRS)
def test_classic_and_oas_twins_parse_to_the_same_spec(name: str) -> None:
    classic = load(GOLDEN / f"{name}.classic.json")
    oas = load(GOLDEN / f"{name}.oas.json")
    assert (classic.format, oas.format) == ("classic", "oas")
    assert classic.source == f"{name}.classic.json"
    assert comparable(classic) == comparable(oas)
    assert classic.ignored == () and oas.ignored == ()


def test_keyless_pair_carries_what_it_says() -> None:
    spec = load(GOLDEN / "keyless-ratelimit-webhook.oas.json")
    assert spec.auth is None and spec.keyless
    assert spec.rate_limit == RateSpec(rate=2, per=10)
    assert (spec.domain, spec.preserve_host_header, spec.strip_listen_path) == ("api.example.com", True, True)
    hook, log_handler, custom = spec.event_handlers
    assert (hook.event, hook.kind) == ("RatelimitExceeded", "webhook")  # OAS types reach the registry as is
    assert hook.meta["event_timeout"] == 90  # "1m30s"
    assert hook.meta["header_map"] == {"X-Tyk": "golden", "X-Second": "two"}
    assert hook.where == "keyless-ratelimit-webhook.oas.json $.x-tyk-api-gateway.server.eventHandlers[0]"
    assert (log_handler.kind, log_handler.meta) == ("log", {"disabled": False, "prefix": "golden"})
    assert (custom.event, custom.kind, custom.meta["disabled"]) == (
        "BreakerTripped",
        "custom",
        True,
    )
    classic = load(GOLDEN / "keyless-ratelimit-webhook.classic.json")
    where = "keyless-ratelimit-webhook.classic.json $.event_handlers.events.BreakerTripped[0]"
    assert classic.event_handlers[2].where == where


def test_auth_pairs_read_every_token_source() -> None:
    assert load(GOLDEN / "authtoken-sources.oas.json").auth == AuthTokenSpec(
        header_name="X-Api-Key",
        use_header=True,
        use_param=True,
        param_name="api_key",
        use_cookie=True,
        cookie_name="session_key",
        strip_auth_data=True,
    )
    # Header off, query on; the cookie name falls back to the (default) header name, as in Tyk.
    assert load(GOLDEN / "authtoken-query-only.classic.json").auth == AuthTokenSpec(
        header_name="Authorization",
        use_header=False,
        use_param=True,
        param_name="key",
        use_cookie=False,
        cookie_name="Authorization",
    )


def test_shipped_examples_load_cleanly() -> None:
    result = load_dir(str(EXAMPLES / "apps"))
    assert result.skipped == ()
    specs = {s.api_id: s for s in result.specs}
    assert {"example-local-webhook", "example-local-webhook-classic", "keyed"} <= set(specs)
    assert all(s.ignored == () for s in result.specs)

    oas = specs["example-local-webhook"]
    assert (oas.format, oas.listen_path, oas.strip_listen_path) == ("oas", "/example-local-webhook/", True)
    assert (oas.target_url, oas.auth, oas.org_id) == ("http://127.0.0.1:8000/", None, "")
    assert oas.rate_limit == RateSpec(rate=2, per=10)
    webhook = {
        "disabled": False,
        "id": "",
        "name": "My local webhook",
        "method": "POST",
        "target_path": "http://127.0.0.1:9000/webhook",
        "template_path": "templates/default_webhook.json",
        "header_map": {"X-Tyk": "example-local-webhook"},
        "event_timeout": 1,
    }
    assert [(h.event, h.kind, dict(h.meta)) for h in oas.event_handlers] == [
        ("RatelimitExceeded", "webhook", webhook)
    ]

    twin = specs["example-local-webhook-classic"]
    assert (twin.format, twin.listen_path, twin.rate_limit) == (
        "classic",
        "/example-local-webhook-classic/",
        oas.rate_limit,
    )
    assert [(h.event, h.kind, h.meta) for h in twin.event_handlers] == [
        (h.event, classic_name(h.kind), h.meta) for h in oas.event_handlers
    ]

    keyed = specs["keyed"]
    assert keyed.auth == AuthTokenSpec() and keyed.listen_path == "/keyed/"
    assert [(h.event, h.kind) for h in keyed.event_handlers] == [
        ("AuthFailure", "eh_log_handler"),
        ("KeyExpired", "eh_log_handler"),
        ("RatelimitExceeded", "eh_web_hook_handler"),
        ("QuotaExceeded", "eh_web_hook_handler"),
    ]


def test_handler_specs_keep_classic_meta_as_written() -> None:
    spec = load(GOLDEN / "authtoken-sources.classic.json")
    assert spec.event_handlers == (
        HandlerSpec(
            event="AuthFailure",
            kind="eh_log_handler",
            meta={"disabled": False, "prefix": "auth"},
            where="authtoken-sources.classic.json $.event_handlers.events.AuthFailure[0]",
        ),
    )


def test_versioned_base_pair_carries_what_it_says() -> None:
    v = load(GOLDEN / "versioned-base.oas.json").versioning
    assert (v.enabled, v.name, v.default, v.location, v.strip, v.fallback_to_default) == (
        True,
        "v1",
        "self",
        "url",
        True,
        True,
    )
    assert v.children == {"v2": "golden-child-2", "v3": "golden-child-3"}
    assert v.not_versioned and v.api_expires == 1893587400.0  # 2030-01-02 12:30 UTC
