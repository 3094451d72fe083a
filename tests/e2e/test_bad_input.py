"""Bad input never takes the gateway down: each problem is reported by name and the rest serves; a
definition naming a file or an address it must not reach is refused whole, at load and by the REST API."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import StallingApp, WebhookRecorder, echo_app, run_gateway, serve
from tests.corpus import corpus
from tests.e2e.conftest import seed_classic, seed_oas


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


# -- files and targets a definition must not reach (issue 14, findings 1 and 2) ----------------------

METADATA = "http://169.254.169.254/latest/meta-data/"


def refused_apis(upstream: str, hook: str) -> list[tuple[str, dict[str, Any], str]]:
    """(file stem, definition, what its refusal names: the field and the value), one per refusal."""

    def with_webhook(api_id: str, listen: str, **meta: Any) -> dict[str, Any]:
        handler = {"handler_name": "eh_web_hook_handler", "handler_meta": {"target_path": hook, **meta}}
        return {**keyless(api_id, listen, upstream), "event_handlers": {"events": {"AuthFailure": [handler]}}}

    oas = seed_oas(upstream, hook)
    oas["x-tyk-api-gateway"]["info"]["id"] = "environ"
    oas["x-tyk-api-gateway"]["server"]["listenPath"]["value"] = "/environ/"
    oas["x-tyk-api-gateway"]["server"]["eventHandlers"][0]["bodyTemplate"] = "/proc/self/environ"
    jwt = {"api_id": "jwks", "proxy": {"listen_path": "/jwks/", "target_url": upstream}, "enable_jwt": True}
    jwt |= {"jwt_signing_method": "rsa", "jwt_jwks_uris": [{"url": METADATA + "jwks"}]}
    oauth_block = {"client_id": "c", "client_secret": "s", "token_url": METADATA + "token"}
    oauth = {
        **keyless("token", "/token/", upstream),
        "upstream_auth": {
            "enabled": True,
            "oauth": {
                "enabled": True,
                "allowed_authorize_types": ["clientCredentials"],
                "client_credentials": oauth_block,
            },
        },
    }
    uptime = {**keyless("uptime", "/uptime/", upstream), "uptime_tests": {"check_list": [{"url": METADATA}]}}
    return [
        (
            "passwd",
            with_webhook("passwd", "/passwd/", template_path="/etc/passwd"),
            "'/etc/passwd' is outside",
        ),
        (
            "hostname",
            with_webhook("hostname", "/hostname/", template_path="../../../../etc/hostname"),
            "\"template_path\": '../../../../etc/hostname' is outside template_path",
        ),
        ("environ", oas, "\"template_path\": '/proc/self/environ' is outside template_path"),
        (
            "leak",
            with_webhook("leak", "/leak/", template_path="leak.json"),
            "'leak.json' is a link to a file",
        ),
        (
            "metadata",
            with_webhook("metadata", "/metadata/", target_path=METADATA),
            f'"target_path": {METADATA} is refused by the outbound policy: 169.254.169.254 is in',
        ),
        ("uptime", uptime, f"$.uptime_tests.check_list[0].url: {METADATA} is refused by the outbound policy"),
        ("jwks", jwt, f"$.jwt_jwks_uris[0].url: {METADATA}jwks is refused by the outbound policy"),
        (
            "token",
            oauth,
            f"$.upstream_auth.oauth.client_credentials.token_url: {METADATA}token is refused by the outbound",
        ),
    ]


def link_out_of_templates(tmp_path: Path) -> None:
    """templates/leak.json, a link to a file outside template_path holding a secret."""
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "secret.txt").write_text("s3cret")
    (tmp_path / "templates" / "leak.json").symlink_to(tmp_path / "secret.txt")


async def test_an_api_naming_a_file_or_address_it_must_not_reach_is_not_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each refused API is skipped whole (never served without its handler), named with its file, the
    field and the value; the rest serves and nothing was read or called."""
    recorder = WebhookRecorder()
    link_out_of_templates(tmp_path)
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        refused = refused_apis(upstream.url, hook.url)
        apis = [keyless("good", "/good/", upstream.url), *(doc for _, doc, _ in refused)]
        async with run_gateway(tmp_path, apis=apis) as gw:
            assert [s.api_id for s in gw.gateway.specs()] == ["good"]
            assert (await gw.client.get("/good/")).status_code == 200
            assert (await gw.client.get("/passwd/")).status_code == 404
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    for stem, _, needle in refused:
        assert any(f"skipped API {stem!r}" in e and f"-{stem}.json" in e and needle in e for e in errors), (
            stem
        )
    assert recorder.deliveries == [] and "s3cret" not in caplog.text


async def test_the_rest_api_refuses_them_with_400_and_writes_nothing(tmp_path: Path) -> None:
    link_out_of_templates(tmp_path)
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[keyless("good", "/good/", upstream.url)]) as gw:
            before = sorted(p.name for p in (tmp_path / "apps").iterdir())
            for stem, doc, needle in refused_apis(upstream.url, "http://127.0.0.1:9/hook"):
                path = "/tyk/apis/oas" if "openapi" in doc else "/tyk/apis"
                answer = await gw.admin("POST", path, json=doc)
                assert answer.status_code == 400, (stem, answer.text)
                assert answer.json()["status"] == "error" and needle in answer.json()["message"], stem
            # A PUT over a served API is refused the same way, and leaves the file as it was.
            bad = keyless("good", "/good/", upstream.url) | {
                "uptime_tests": {"check_list": [{"url": METADATA}]}
            }
            assert (await gw.admin("PUT", "/tyk/apis/good", json=bad)).status_code == 400
            assert sorted(p.name for p in (tmp_path / "apps").iterdir()) == before
            assert "uptime_tests" not in (tmp_path / "apps" / before[0]).read_text()


async def test_global_webhooks_it_must_not_reach_are_refused_and_nothing_is_stored(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    link_out_of_templates(tmp_path)
    refused = [
        ({"target_path": "http://127.0.0.1:9/", "template_path": "/etc/passwd"}, "'/etc/passwd' is outside"),
        ({"target_path": "http://127.0.0.1:9/", "template_path": "leak.json"}, "is a link to a file outside"),
        ({"target_path": METADATA}, "169.254.169.254 is in outbound.deny (169.254.0.0/16)"),
        (
            {"target_path": "http://[::ffff:169.254.169.254]/"},
            "169.254.169.254 (from ::ffff:169.254.169.254)",
        ),
    ]
    async with run_gateway(tmp_path, config=store_config) as gw:
        for i, (body, needle) in enumerate(refused):
            answer = await gw.admin("POST", "/tyk/webhooks", json={"id": f"w{i}", "method": "POST", **body})
            assert answer.status_code == 400 and needle in answer.json()["message"], answer.text
        assert (await gw.admin("GET", "/tyk/webhooks")).json() == {"webhooks": []}
        assert await gw.gateway.store.keys("webhook-def-") == []
