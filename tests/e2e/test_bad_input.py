"""Bad input never takes the gateway down: each problem is reported by name and the rest serves."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path

import pytest

from gateway.testing import StallingApp, WebhookRecorder, echo_app, run_gateway, serve
from tests.corpus import corpus
from tests.e2e.conftest import seed_classic


def keyless(api_id: str, listen: str, upstream: str) -> dict[str, object]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": upstream, "strip_listen_path": True},
    }


async def test_a_broken_definition_is_skipped_and_the_rest_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "broken.json").write_text('{"api_id": "b", "proxy": ')
    (tmp_path / "apps" / "relative.json").write_text(
        json.dumps(
            {"api_id": "r", "use_keyless": True, "proxy": {"listen_path": "/r/", "target_url": "not-a-url"}}
        )
    )
    (tmp_path / "apps" / "oauth.json").write_text(
        json.dumps(
            {
                "api_id": "j",
                "use_oauth2": True,
                "proxy": {"listen_path": "/j/", "target_url": "http://127.0.0.1:1"},
            }
        )
    )
    caplog.set_level(logging.INFO)
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[keyless("good", "/good/", upstream.url)]) as gw:
            assert (await gw.client.get("/good/x")).status_code == 200
            assert (await gw.client.get("/j/x")).status_code == 404  # never served without its auth
            assert [s.api_id for s in gw.gateway.specs()] == ["good"]
    text = caplog.text
    assert "broken.json" in text and "relative.json" in text and "target_url" in text
    assert "oauth.json" in text and "use_oauth2" in text
    assert not [r for r in caplog.records if r.exc_info]


async def test_a_bad_handler_is_reported_at_load_and_the_api_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, hook.url + "/ok")
        events = api["event_handlers"]["events"]  # type: ignore[index]
        events["RatelimitExceeded"] += [
            {"handler_name": "eh_web_hook_handler", "handler_meta": {"method": "POST"}},
            {
                "handler_name": "eh_web_hook_handler",
                "handler_meta": {"method": "FETCH", "target_path": hook.url},
            },
            {
                "handler_name": "eh_web_hook_handler",
                "handler_meta": {"target_path": hook.url, "template_path": "missing/nowhere.json"},
            },
        ]
        async with run_gateway(tmp_path, apis=[api]) as gw:
            codes = [(await gw.client.get("/example-local-webhook/")).status_code for _ in range(3)]
            await recorder.wait_for(1)
            await gw.idle()
    assert codes == [200, 200, 429]
    assert len(recorder.deliveries) == 1 and recorder.deliveries[0].path == "/ok"
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("seed-classic" in e and "target_path" in e for e in errors)
    assert any("seed-classic" in e and "FETCH" in e for e in errors)
    assert any("seed-classic" in e and "missing/nowhere.json" in e for e in errors)


async def test_a_stalled_webhook_target_never_delays_requests(tmp_path: Path) -> None:
    stalled = StallingApp()
    async with await serve(echo_app) as upstream, await serve(stalled) as hook:
        api = seed_classic(upstream.url, hook.url + "/slow", cooldown=0)
        api["global_rate_limit"] = {"rate": 1, "per": 60}
        async with run_gateway(tmp_path, apis=[api]) as gw:
            codes = [(await gw.client.get("/example-local-webhook/")).status_code for _ in range(30)]
            # Every answer came back while the webhook target still holds its requests unanswered.
            assert stalled.arrived >= 1
            assert codes == [200] + [429] * 29
            stalled.release()
            await asyncio.wait_for(gw.idle(), 10)


async def test_the_tyk_corpus_loads_or_skips_every_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    apps = tmp_path / "apps"
    shutil.copytree(corpus() / "apps", apps)
    for path in (corpus() / "oas").glob("*.json"):
        shutil.copy(path, apps / f"oas-{path.name}")
    caplog.set_level(logging.INFO)
    async with run_gateway(tmp_path) as gw:
        hello = await gw.client.get("/hello")
        assert hello.json()["status"] == "pass"
        loaded = {Path(s.source).name for s in gw.gateway.specs()}
    files = {p.name for p in apps.glob("*.json")}
    skipped = {name for name in files - loaded if name in caplog.text}
    assert loaded | skipped == files, sorted(files - loaded - skipped)
    assert loaded and skipped
    assert not [r for r in caplog.records if r.exc_info]


async def test_misplaced_handlers_are_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_handler = [{"handler_name": "eh_log_handler", "handler_meta": {"prefix": "p"}}]
    api = {
        **keyless("a", "/a/", "http://127.0.0.1:1"),
        "event_handlers": {"events": {"TokenCreated": log_handler}},
    }
    config = {"event_handlers": {"events": {"AuthFailure": log_handler}}}
    async with run_gateway(tmp_path, apis=[api], config=config):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "api 'a'" in w and "TokenCreated never fire here; register them in tyk.conf" in w for w in warnings
    )
    assert any(
        "tyk.conf" in w and "AuthFailure never fire here; register them in API definitions" in w
        for w in warnings
    )


async def test_a_missing_app_path_serves_no_apis_until_one_is_posted(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, config={"app_path": "nowhere"}) as gw:
            assert (await gw.client.get("/hello")).status_code == 200
            assert gw.gateway.specs() == ()
            posted = await gw.admin("POST", "/tyk/apis", json=keyless("late", "/late/", upstream.url))
            assert posted.status_code == 200, posted.text
            await gw.admin("GET", "/tyk/reload")
            assert (await gw.client.get("/late/")).status_code == 200


async def test_unknown_triggers_and_bad_cooldowns_are_reported_and_the_api_serves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.e2e.conftest import seed_oas

    async with await serve(echo_app) as upstream:
        api = seed_oas(upstream.url, "http://127.0.0.1:1/hook", cooldown="10 seconds")
        handlers = api["x-tyk-api-gateway"]["server"]["eventHandlers"]
        handlers.append({**handlers[0], "trigger": "RateLimitExceeded", "cooldownPeriod": "1s"})
        async with run_gateway(tmp_path, apis=[api]) as gw:
            assert (await gw.client.get("/example-local-webhook/")).status_code == 200
    text = caplog.text
    assert "'RateLimitExceeded' is not one of Tyk's events" in text
    assert "10 seconds" in text and "event_timeout" in text
