"""End-to-end fixtures: the seed's API in both formats, and a config for each store backend; and every
webhook body a recorder receives checked against the event catalog (tests/catalog_check.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from gateway.testing.recorder import Tap
from tests.catalog_check import CatalogCheck

# One for the session: its validators are built once, and its counts are the session's summary.
CATALOG = CatalogCheck()


@pytest.fixture(autouse=True)
def webhook_bodies_match_the_catalog(request: pytest.FixtureRequest) -> Iterator[CatalogCheck]:
    """After each e2e test, every webhook body its recorders received that is the default template's (or
    a CloudEvents envelope) validates against its event's schema; a failure names the test and the event."""
    with Tap(limit=5000) as tap:  # a flood's bodies past the last 5000 go unchecked, not held in memory
        yield CATALOG
    problems = [p for delivery in tap.deliveries for p in CATALOG.check(delivery)]
    assert not problems, f"{request.node.nodeid}: webhook bodies off the event catalog:\n" + "\n".join(
        problems[:20]
    )


@pytest.fixture(scope="session", autouse=True)
def catalog_validated_every_event_it_recognised() -> Iterator[None]:
    """At the session's end: each event type seen in a recognised body was validated at least once (a
    check that recognises bodies but validates none fails here rather than passing silently)."""
    yield
    missed = sorted(name for name in CATALOG.recognised if not CATALOG.validated[name])
    assert not missed, f"the event catalog check recognised but never validated a body of {missed}"
    print(  # shown with -s: what the check covered
        f"\nevent catalog check: validated {dict(CATALOG.validated)}; custom-template bodies "
        f"{CATALOG.skipped}; not JSON objects {CATALOG.other}; seen only in custom bodies "
        f"{CATALOG.unvalidated()}"
    )


def hooks_per_event(hook: str, events: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Classic `event_handlers.events`: one webhook per event, to `<hook>/<event>` without a cooldown, so a
    test tells the deliveries apart by path."""
    meta = {"method": "POST", "event_timeout": 0}
    return {
        e: [{"handler_name": "eh_web_hook_handler", "handler_meta": {**meta, "target_path": f"{hook}/{e}"}}]
        for e in events
    }


def seed_oas(upstream: str, hook: str, cooldown: str = "1s") -> dict[str, Any]:
    """The Tyk documentation's example-local-webhook API, pointed at local servers."""
    return {
        "info": {"title": "example-local-webhook", "version": "1.0.0"},
        "openapi": "3.0.3",
        "paths": {},
        "components": {},
        "x-tyk-api-gateway": {
            "info": {"id": "seed-oas", "name": "example-local-webhook", "state": {"active": True}},
            "server": {
                "eventHandlers": [
                    {
                        "enabled": True,
                        "trigger": "RatelimitExceeded",
                        "cooldownPeriod": cooldown,
                        "type": "webhook",
                        "name": "My local webhook",
                        "url": hook,
                        "method": "POST",
                        "headers": [{"name": "X-Tyk", "value": "example-local-webhook"}],
                        "bodyTemplate": "templates/default_webhook.json",
                    }
                ],
                "listenPath": {"strip": True, "value": "/example-local-webhook/"},
            },
            "upstream": {"rateLimit": {"enabled": True, "per": "10s", "rate": 2}, "url": upstream},
        },
    }


def seed_classic(upstream: str, hook: str, cooldown: int = 1) -> dict[str, Any]:
    """The same API as Tyk Classic."""
    return {
        "name": "example-local-webhook",
        "api_id": "seed-classic",
        "org_id": "",
        "use_keyless": True,
        "active": True,
        "proxy": {
            "listen_path": "/example-local-webhook/",
            "target_url": upstream,
            "strip_listen_path": True,
        },
        "global_rate_limit": {"rate": 2, "per": 10},
        "event_handlers": {
            "events": {
                "RatelimitExceeded": [
                    {
                        "handler_name": "eh_web_hook_handler",
                        "handler_meta": {
                            "method": "POST",
                            "target_path": hook,
                            "template_path": "templates/default_webhook.json",
                            "header_map": {"X-Tyk": "example-local-webhook"},
                            "event_timeout": cooldown,
                        },
                    }
                ]
            }
        },
    }


SEEDS = {"oas": seed_oas, "classic": seed_classic}


@pytest.fixture(params=["embedded", "redis"])
def store_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """tyk.conf `storage` for each backend (the Redis one on the suite's own redis-server)."""
    if request.param == "embedded":
        return {"storage": {"type": "embedded", "path": "data"}}
    server = request.getfixturevalue("redis_server")
    request.getfixturevalue("redis_flush")
    return {"storage": {"type": "redis", "host": server.host, "port": server.port}}
