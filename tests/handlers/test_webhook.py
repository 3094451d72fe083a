"""The webhook handler against a real receiver and each real store: validation at load (a template
outside template_path or a target the outbound policy denies is Refused), Tyk's request shape, and the
atomic cooldown (reserved before sending, released when delivery fails)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.errors import ConfigError, HandlerError, Refused
from gateway.events.catalog import AuthFailureMeta, Event, EventMessage, TokenMeta
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.handlers.webhook import WebhookHandler
from gateway.outbound import Outbound
from gateway.packaged import TEMPLATES
from gateway.store.base import Store
from gateway.testing import WebhookRecorder, serve


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(follow_redirects=False, timeout=5) as client:
        yield client


def deps(store: Store, http: httpx.AsyncClient, tmp_path: Path) -> HandlerDeps:
    return HandlerDeps(
        store=store,
        http=http,
        template_dir=str(TEMPLATES),
        middleware_dir=str(tmp_path),
        config_dir=str(tmp_path),
    )


def auth_failure(key: str = "k1") -> EventMessage:
    meta = AuthFailureMeta("Auth Failure", path="/p", origin="10.0.0.1", key=key)
    return EventMessage(Event.AuthFailure, meta, "api1")


SCOPE = HandlerScope("api1", "org", "apps/a.json $.event_handlers.events.AuthFailure[0]")


async def test_sends_tyks_request(store: Store, http: httpx.AsyncClient, tmp_path: Path) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        meta = {"method": "put", "target_path": hook.url + "/in?x=1", "header_map": {"X-Secret": "s"}}
        handler = WebhookHandler.from_meta(meta, SCOPE, deps(store, http, tmp_path))
        await handler.handle(auth_failure('quote"and\nnewline'))
    (got,) = recorder.deliveries
    assert (got.method, got.path, got.query) == ("PUT", "/in", "x=1")
    assert got.headers["user-agent"] == "Tyk-Hookshot" and got.headers["x-secret"] == "s"
    assert got.headers["content-type"] == "application/json"
    assert got.json() == {
        "event": "AuthFailure",
        "message": "Auth Failure",
        "path": "/p",
        "origin": "10.0.0.1",
        "key": 'quote"and\nnewline',
    }


async def test_get_carries_the_body_and_header_map_wins(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        meta = {"target_path": hook.url, "header_map": {"Content-Type": "text/plain", "User-Agent": "mine"}}
        handler = WebhookHandler.from_meta(meta, SCOPE, deps(store, http, tmp_path))
        assert handler.method == "GET"  # Tyk's default when no method is given
        await handler.handle(EventMessage(Event.TokenCreated, TokenMeta("Key generated.", org="o", key="k")))
    (got,) = recorder.deliveries
    assert got.headers["content-type"] == "text/plain" and got.headers["user-agent"] == "mine"
    assert got.json()["event"] == "TokenCreated" and got.json()["org"] == "o"


async def test_cooldown_is_atomic_under_concurrency(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        meta = {"method": "POST", "target_path": hook.url, "event_timeout": 30}
        handlers = [WebhookHandler.from_meta(meta, SCOPE, deps(store, http, tmp_path)) for _ in range(3)]
        await asyncio.gather(*(handlers[i % 3].handle(auth_failure()) for i in range(50)))
        await handlers[0].handle(auth_failure("another-key"))  # a different body is not suppressed
    assert len(recorder.deliveries) == 2


async def test_a_failed_delivery_releases_the_cooldown(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    recorder = WebhookRecorder(status=500)
    async with await serve(recorder) as hook:
        handler = WebhookHandler.from_meta(
            {"method": "POST", "target_path": hook.url, "event_timeout": 30},
            SCOPE,
            deps(store, http, tmp_path),
        )
        with pytest.raises(HandlerError, match="answered 500"):
            await handler.handle(auth_failure())
        recorder.status = 200
        await handler.handle(auth_failure())
        await handler.handle(auth_failure())  # now inside the cooldown
    assert [d.json()["key"] for d in recorder.deliveries] == ["k1", "k1"]


async def test_unreachable_target_raises_a_handler_error(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    from gateway.testing import unused_port

    handler = WebhookHandler.from_meta(
        {"target_path": f"http://127.0.0.1:{unused_port()}/x", "event_timeout": 5},
        SCOPE,
        deps(store, http, tmp_path),
    )
    with pytest.raises(HandlerError, match=r"127\.0\.0\.1"):
        await handler.handle(auth_failure())
    assert await store.keys("webhook.cache.") == []  # the reservation was released


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ({}, '"target_path": expected an absolute http(s) URL'),
        ({"target_path": "/relative"}, '"target_path": expected an absolute http(s) URL'),
        # Found through POST /tyk/webhooks: urllib raised on these, a 500 there and every reload failing.
        ({"target_path": "http://["}, '"target_path": expected an absolute http(s) URL'),
        ({"target_path": "http://h:99999/"}, '"target_path": expected an absolute http(s) URL'),
        ({"target_path": "http://h:port/"}, '"target_path": expected an absolute http(s) URL'),
        ({"target_path": "http://h", "method": "FETCH"}, "'FETCH'"),
        ({"target_path": "http://h", "event_timeout": "10"}, '"event_timeout"'),
        ({"target_path": "http://h", "event_timeout": 1.5}, '"event_timeout"'),
        ({"target_path": "http://h", "header_map": {"X": 1}}, '"header_map"'),
        ({"target_path": "http://h", "template_path": "nope/missing.json"}, "nope/missing.json"),
    ],
)
async def test_bad_meta_is_a_load_error_naming_where(
    store: Store, http: httpx.AsyncClient, tmp_path: Path, meta: dict[str, Any], needle: str
) -> None:
    with pytest.raises(ConfigError) as err:
        WebhookHandler.from_meta(meta, SCOPE, deps(store, http, tmp_path))
    assert needle in str(err.value) and "apps/a.json $.event_handlers.events.AuthFailure[0]" in str(err.value)


async def test_custom_template_relative_to_the_config_folder(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    (tmp_path / "templates" / "hooks").mkdir(parents=True)
    (tmp_path / "templates" / "hooks" / "plain.txt").write_text("{{.Type}} by {{.Meta.Key}}")
    recorder = WebhookRecorder()
    async with await serve(recorder) as hook:
        handler = WebhookHandler.from_meta(
            {"method": "POST", "target_path": hook.url, "template_path": "templates/hooks/plain.txt"},
            SCOPE,
            dataclasses.replace(deps(store, http, tmp_path), template_dir=str(tmp_path / "templates")),
        )
        await handler.handle(auth_failure())
    (got,) = recorder.deliveries
    assert got.body == b"AuthFailure by k1" and "content-type" not in got.headers


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ({"template_path": "/etc/passwd"}, "\"template_path\": '/etc/passwd' is outside template_path"),
        ({"template_path": "../../../../etc/hostname"}, "'../../../../etc/hostname' is outside"),
        (
            {"target_path": "http://169.254.169.254/latest/meta-data/"},
            '"target_path": http://169.254.169.254/latest/meta-data/ is refused by the outbound policy: '
            "169.254.169.254 is in outbound.deny (169.254.0.0/16)",
        ),
        ({"target_path": "http://[fd00:ec2::254]/"}, "is in outbound.deny (fd00:ec2::254/128)"),
        ({"target_path": "http://metadata.google.internal/"}, "host metadata.google.internal is in"),
    ],
)
async def test_a_template_or_target_it_must_not_touch_is_refused_at_load(
    store: Store, http: httpx.AsyncClient, tmp_path: Path, meta: dict[str, Any], needle: str
) -> None:
    """Refused, not a plain ConfigError: the loader skips the whole API for it (tests/e2e/test_bad_input)."""
    with pytest.raises(Refused) as err:
        WebhookHandler.from_meta(
            {"target_path": "http://127.0.0.1:9/", **meta}, SCOPE, deps(store, http, tmp_path)
        )
    assert needle in str(err.value) and str(err.value).startswith(SCOPE.where)


async def test_an_allow_list_admits_only_what_it_names(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    only_loopback = dataclasses.replace(deps(store, http, tmp_path), outbound=Outbound(allow=["127.0.0.1"]))
    WebhookHandler.from_meta({"target_path": "http://127.0.0.1:9/"}, SCOPE, only_loopback)
    WebhookHandler.from_meta({"target_path": "http://hooks.example/"}, SCOPE, only_loopback)  # at send time
    with pytest.raises(Refused, match=r"10\.0\.0\.1 is not in outbound\.allow"):
        WebhookHandler.from_meta({"target_path": "http://10.0.0.1/"}, SCOPE, only_loopback)


async def test_a_cancelled_delivery_releases_the_cooldown(
    store: Store, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    from gateway.testing import StallingApp

    stalled = StallingApp()
    async with serve(stalled) as hook:
        handler = WebhookHandler.from_meta(
            {"target_path": hook.url, "event_timeout": 30}, SCOPE, deps(store, http, tmp_path)
        )
        task = asyncio.create_task(handler.handle(auth_failure()))
        while stalled.arrived < 1:
            await asyncio.sleep(0.01)  # bounded by the test timeout: the request reached the target
        assert await store.keys("webhook.cache.") != []
        task.cancel()  # what the bus does on a handler timeout or at shutdown
        with pytest.raises(asyncio.CancelledError):
            await task
        stalled.release()
    assert await store.keys("webhook.cache.") == []
