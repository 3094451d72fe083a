"""Global webhooks end to end, on both stores: an OAS API references a tyk.conf webhook and a REST-created
one by id; a PUT moves the target after a reload; a DELETE leaves the reference unknown (reported, the API
serves); secrets are masked; tyk.conf's webhooks are read-only; bad definitions store nothing."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.delivery import signing
from gateway.errors import ConfigError
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_oas


def referencing_api(upstream: str) -> dict[str, Any]:
    """The seed OAS API (2 requests per 10 s) whose RatelimitExceeded handlers are references only."""
    spec = seed_oas(upstream, "http://127.0.0.1:9")
    refs = [
        {"enabled": True, "trigger": "RatelimitExceeded", "type": "webhook", "id": i} for i in ("ops", "team")
    ]
    spec["x-tyk-api-gateway"]["server"]["eventHandlers"] = refs
    return spec


def webhook(webhook_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": webhook_id, "method": "POST", "target_path": url, "event_timeout": 0, **extra}


async def limited(gw: RunningGateway) -> None:
    """One more request past the limit: one RatelimitExceeded."""
    assert (await gw.client.get("/example-local-webhook/get")).status_code == 429


async def test_references_follow_changes_after_a_reload(
    tmp_path: Path, store_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = WebhookRecorder(), WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(first) as one, await serve(second) as two:
        config = {**store_config, "webhooks": [webhook("ops", f"{one.url}/ops")]}
        async with run_gateway(tmp_path, apis=[referencing_api(upstream.url)], config=config) as gw:
            made = await gw.admin("POST", "/tyk/webhooks", json=webhook("team", f"{one.url}/team"))
            assert made.json() == {"key": "team", "status": "ok", "action": "added"}
            assert (await gw.admin("GET", "/tyk/reload")).status_code == 200
            for _ in range(2):
                assert (await gw.client.get("/example-local-webhook/get")).status_code == 200
            await limited(gw)
            await first.wait_for(2)
            assert sorted(d.path for d in first.deliveries) == ["/ops", "/team"]

            moved = await gw.admin("PUT", "/tyk/webhooks/team", json=webhook("team", f"{two.url}/team"))
            assert moved.json()["action"] == "modified"
            await gw.admin("GET", "/tyk/reload")
            await limited(gw)
            await second.wait_for(1)
            await first.wait_for(3)

            assert (await gw.admin("DELETE", "/tyk/webhooks/team")).json()["action"] == "deleted"
            with caplog.at_level(logging.ERROR, logger="gateway.app"):
                await gw.admin("GET", "/tyk/reload")
            await limited(gw)  # the API still serves (and limits); only "ops" hears it
            await first.wait_for(4)
            await gw.idle()
    assert [d.path for d in first.deliveries].count("/ops") == 3
    assert [d.path for d in second.deliveries] == ["/team"]
    assert any(
        "no global webhook 'team'" in r.getMessage() and "seed-oas" in r.getMessage() for r in caplog.records
    )


async def test_rest_api_masks_refuses_and_protects_tyk_conf(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    secret = signing.generate()
    config = {**store_config, "webhooks": [webhook("ops", "http://127.0.0.1:9/ops")]}
    async with run_gateway(tmp_path, config=config, http=False) as gw:
        signed = webhook(
            "signed",
            "http://127.0.0.1:9/s",
            signing_secrets=[secret],
            header_map={"Authorization": "Bearer t0k"},
        )
        assert (await gw.admin("POST", "/tyk/webhooks", json=signed)).status_code == 200
        shown = (await gw.admin("GET", "/tyk/webhooks/signed")).json()
        listed = (await gw.admin("GET", "/tyk/webhooks")).json()["webhooks"]

        bad = await gw.admin("POST", "/tyk/webhooks", json=webhook("bad", "not-a-url"))
        assert bad.status_code == 400 and '"target_path"' in bad.json()["message"]
        assert (await gw.admin("GET", "/tyk/webhooks/bad")).status_code == 404

        assert (
            await gw.admin("PUT", "/tyk/webhooks/ops", json=webhook("ops", "http://127.0.0.1:9/x"))
        ).status_code == 409
        assert (await gw.admin("DELETE", "/tyk/webhooks/ops")).status_code == 409
        assert (await gw.admin("DELETE", "/tyk/webhooks/nothing")).status_code == 404
        assert (await gw.admin("GET", "/tyk/webhooks/deliveries")).status_code == 200  # not taken for an id
        unauthorised = await gw.client.get("/tyk/webhooks")
    assert shown["signing_secrets"] == ["****"] and shown["header_map"] == {"Authorization": "****"}
    assert secret not in str(listed) and "t0k" not in str(listed)
    assert {w["id"] for w in listed} == {"ops", "signed"}
    assert unauthorised.status_code == 403


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        (["x"], r"webhooks\[0\]"),
        ([{"target_path": "http://127.0.0.1:9/"}], r'webhooks\[0\]: "id"'),
        ([webhook("a", "http://127.0.0.1:9/"), webhook("a", "http://127.0.0.1:9/")], r"webhooks\[1\]"),
        ([webhook("a", "ftp://nowhere")], "target_path"),
    ],
)
async def test_bad_tyk_conf_webhooks_stop_the_start(tmp_path: Path, entries: list[Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        async with run_gateway(tmp_path, config={"webhooks": entries}, http=False):
            pass
