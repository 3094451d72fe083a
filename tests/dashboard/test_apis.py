"""The APIs pages: attach a global webhook to an API's event with a cooldown and detach it, on Classic and
OAS definitions: the file in app_path changes as PUT /tyk/apis would write it, the gateway reloads, and
the handler fires (three requests to the seed API, the third rate limited, reach the receiver)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.dashboard.conftest import ON, rows, sign_in
from tests.e2e.conftest import seed_classic, seed_oas

API = {"classic": "seed-classic", "oas": "seed-oas"}
SEEDS: dict[str, Callable[[str, str], dict[str, Any]]] = {"classic": seed_classic, "oas": seed_oas}


def without_handlers(seed: dict[str, Any], kind: str) -> dict[str, Any]:
    if kind == "classic":
        return {**seed, "event_handlers": {"events": {}}}
    seed["x-tyk-api-gateway"]["server"].pop("eventHandlers")
    return seed


def definition(tmp_path: Path, api_id: str) -> dict[str, Any]:
    (file,) = [p for p in (tmp_path / "apps").glob("*.json") if api_id in p.name]
    loaded: dict[str, Any] = json.loads(file.read_text())
    return loaded


async def three_requests(gw: RunningGateway) -> list[int]:
    return [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(3)]


@pytest.mark.parametrize("kind", ["classic", "oas"])
async def test_attach_then_detach_a_webhook(tmp_path: Path, kind: str) -> None:
    receiver = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(receiver) as hook:
        api = without_handlers(SEEDS[kind](upstream.url, "http://127.0.0.1:9/unused"), kind)
        webhooks = [{"id": "ops", "name": "Ops", "method": "POST", "target_path": f"{hook.url}/ops"}]
        async with run_gateway(tmp_path, apis=[api], config={**ON, "webhooks": webhooks}) as gw:
            api_id = API[kind]
            csrf = await sign_in(gw)
            listing = await gw.client.get("/dashboard/apis")
            assert rows(listing.text, "data-api-id") == [api_id]
            page = await gw.client.get(f"/dashboard/apis/{api_id}")
            assert rows(page.text, "data-event") == [] and 'id="attach"' in page.text

            attach = {"csrf_token": csrf, "event": "RatelimitExceeded", "webhook_id": "ops", "cooldown": "0"}
            done = await gw.client.post(f"/dashboard/apis/{api_id}/handlers/attach", data=attach)
            assert done.status_code == 303 and done.headers["location"] == f"/dashboard/apis/{api_id}"
            written = definition(tmp_path, api_id)
            if kind == "classic":
                entry = written["event_handlers"]["events"]["RatelimitExceeded"]
                assert entry == [{"handler_name": "eh_web_hook_handler", "handler_meta": {"id": "ops"}}]
            else:
                (entry,) = written["x-tyk-api-gateway"]["server"]["eventHandlers"]
                assert entry == {
                    "enabled": True,
                    "trigger": "RatelimitExceeded",
                    "type": "webhook",
                    "id": "ops",
                }
            shown = await gw.client.get(f"/dashboard/apis/{api_id}")  # from the reloaded definition
            assert rows(shown.text, "data-event") == ["RatelimitExceeded"] and 'class="detach"' in shown.text
            assert "attached to RatelimitExceeded" in shown.text

            assert await three_requests(gw) == [200, 200, 429]
            (delivery,) = await receiver.wait_for(1)
            assert delivery.path == "/ops"

            detach = {"csrf_token": csrf, "event": "RatelimitExceeded", "index": "0"}
            gone = await gw.client.post(f"/dashboard/apis/{api_id}/handlers/detach", data=detach)
            assert gone.status_code == 303
            assert rows((await gw.client.get(f"/dashboard/apis/{api_id}")).text, "data-event") == []
            stale = await gw.client.post(f"/dashboard/apis/{api_id}/handlers/detach", data=detach)
            assert stale.status_code == 409
            await gw.client.get("/example-local-webhook/get")  # limited again: nobody hears it now
            await gw.idle()
    assert len(receiver.deliveries) == 1


async def test_bad_attach_input_and_forged_forms_change_nothing(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        api = without_handlers(SEEDS["classic"](upstream.url, "http://127.0.0.1:9/x"), "classic")
        webhooks = [{"id": "ops", "target_path": "http://127.0.0.1:9/ops"}]
        async with run_gateway(tmp_path, apis=[api], config={**ON, "webhooks": webhooks}, http=False) as gw:
            csrf = await sign_in(gw)
            before = definition(tmp_path, "seed-classic")
            url = "/dashboard/apis/seed-classic/handlers/attach"
            good = {"csrf_token": csrf, "event": "RatelimitExceeded", "webhook_id": "ops", "cooldown": ""}
            for wrong, named in [
                ({"event": "NoSuchEvent"}, "Event"),
                ({"webhook_id": "nobody"}, "Webhook"),
                ({"cooldown": "-3"}, "Cooldown"),
            ]:
                answer = await gw.client.post(url, data={**good, **wrong})
                assert answer.status_code == 400 and f"{named}:" in answer.text, wrong
            for token in ("", "forged"):
                assert (await gw.client.post(url, data={**good, "csrf_token": token})).status_code == 403
            assert definition(tmp_path, "seed-classic") == before
            missing = await gw.client.post("/dashboard/apis/nothing/handlers/attach", data=good)
            assert missing.status_code == 404
