"""End-to-end fixtures: the seed's API in both formats, and a config for each store backend."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest


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
