"""The Webhooks pages: create, edit, delete and test global webhooks through forms, the same objects the
REST API's /tyk/webhooks shows; wrong fields answered inline with nothing saved; CSRF refused."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from gateway.testing import WebhookRecorder, run_gateway, serve
from tests.dashboard.conftest import ON, csrf_of, rows, sign_in


def form(csrf: str, **fields: str) -> dict[str, str]:
    base = {"name": "ops", "method": "POST", "target_path": "http://127.0.0.1:9/hook", "headers": ""}
    return {**base, "event_timeout": "", **fields, "csrf_token": csrf}


def field_errors(page: str) -> dict[str, str]:
    found = re.findall(r'<p class="field-error" data-field="([^"]+)"[^>]*>(.*?)</p>', page, re.S)
    return {name: html.unescape(text) for name, text in found}


async def test_create_edit_and_delete_a_webhook(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        csrf = await sign_in(gw)
        made = await gw.client.post(
            "/dashboard/webhooks/new",
            data=form(csrf, headers="X-Team: ops\nAuthorization: Bearer t0k", event_timeout="30"),
        )
        assert made.status_code == 303 and made.headers["location"] == "/dashboard/webhooks"
        listing = await gw.client.get("/dashboard/webhooks")
        (webhook_id,) = rows(listing.text, "data-webhook-id")
        assert "Webhook &#39;ops&#39; saved." in listing.text and 'id="flash"' in listing.text
        assert "t0k" not in listing.text and "Authorization: ****" in listing.text
        stored = (await gw.admin("GET", f"/tyk/webhooks/{webhook_id}")).json()  # the REST API's object
        assert stored["method"] == "POST" and stored["event_timeout"] == 30
        assert stored["header_map"] == {"X-Team": "ops", "Authorization": "****"}

        edit = await gw.client.get(f"/dashboard/webhooks/{webhook_id}")
        assert "t0k" not in edit.text and "Authorization: ****" in edit.text
        changed = await gw.client.post(
            f"/dashboard/webhooks/{webhook_id}",
            data=form(csrf, name="ops2", method="PUT", headers="X-Team: ops\nAuthorization: ****"),
        )
        assert changed.status_code == 303
        raw = await gw.gateway.store.get(f"webhook-def-{webhook_id}")
        assert raw is not None and '"Bearer t0k"' in raw  # the masked value left as it was: kept
        again = (await gw.admin("GET", f"/tyk/webhooks/{webhook_id}")).json()
        assert again["name"] == "ops2" and again["method"] == "PUT" and "event_timeout" not in again

        gone = await gw.client.post(f"/dashboard/webhooks/{webhook_id}/delete", data={"csrf_token": csrf})
        assert gone.status_code == 303
        assert (await gw.admin("GET", f"/tyk/webhooks/{webhook_id}")).status_code == 404
        assert rows((await gw.client.get("/dashboard/webhooks")).text, "data-webhook-id") == []


async def test_wrong_fields_are_named_and_nothing_is_saved(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        csrf = await sign_in(gw)
        cases: list[tuple[dict[str, str], str]] = [
            ({"target_path": "not a url"}, "target_path"),
            ({"target_path": ""}, "target_path"),
            ({"name": ""}, "name"),
            ({"method": "TRACE"}, "method"),
            ({"headers": "no colon here"}, "headers"),
            ({"event_timeout": "-1"}, "event_timeout"),
            ({"event_timeout": "soon"}, "event_timeout"),
        ]
        for fields, named in cases:
            answer = await gw.client.post("/dashboard/webhooks/new", data=form(csrf, **fields))
            assert answer.status_code == 400, fields
            errors = field_errors(answer.text)
            assert named in errors, (fields, errors)
            for name, value in fields.items():  # what was typed is kept (a select offers its options only)
                assert html.escape(value, quote=True) in answer.text or not value or name == "method"
        assert (await gw.admin("GET", "/tyk/webhooks")).json()["webhooks"] == []


async def test_a_missing_or_forged_csrf_token_saves_nothing(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        csrf = await sign_in(gw)
        for token in ("", "forged", csrf + "x"):
            data = {**form(csrf), "csrf_token": token}
            answer = await gw.client.post("/dashboard/webhooks/new", data=data)
            assert answer.status_code == 403
        no_field = {k: v for k, v in form(csrf).items() if k != "csrf_token"}
        assert (await gw.client.post("/dashboard/webhooks/new", data=no_field)).status_code == 403
        assert (await gw.admin("GET", "/tyk/webhooks")).json()["webhooks"] == []


async def test_tyk_conf_webhooks_are_read_only(tmp_path: Path) -> None:
    hook: dict[str, Any] = {"id": "conf", "name": "from tyk.conf", "target_path": "http://127.0.0.1:9/c"}
    async with run_gateway(tmp_path, config={**ON, "webhooks": [hook]}, http=False) as gw:
        csrf = await sign_in(gw)
        assert rows((await gw.client.get("/dashboard/webhooks")).text, "data-webhook-id") == ["conf"]
        view = await gw.client.get("/dashboard/webhooks/conf")
        assert view.status_code == 200 and 'id="save"' not in view.text and 'id="delete"' not in view.text
        refused = await gw.client.post("/dashboard/webhooks/conf", data=form(csrf, name="mine"))
        assert refused.status_code == 409
        assert (await gw.client.post("/dashboard/webhooks/conf/delete", data=form(csrf))).status_code == 409
        assert gw.gateway.configured_webhooks["conf"]["name"] == "from tyk.conf"


async def test_send_a_test_event_and_see_the_answer(tmp_path: Path) -> None:
    receiver = WebhookRecorder(status=202)
    async with await serve(receiver) as hook, run_gateway(tmp_path, config=ON, http=False) as gw:
        csrf = await sign_in(gw)
        made = await gw.client.post("/dashboard/webhooks/new", data=form(csrf, target_path=f"{hook.url}/t"))
        assert made.status_code == 303
        (webhook_id,) = rows((await gw.client.get("/dashboard/webhooks")).text, "data-webhook-id")
        edit = await gw.client.get(f"/dashboard/webhooks/{webhook_id}")
        assert 'id="test-webhook"' in edit.text and 'id="delete"' in edit.text
        tested = await gw.client.post(
            f"/dashboard/webhooks/{webhook_id}/test",
            data={"csrf_token": csrf},
            headers={"HX-Request": "true"},
        )
        assert tested.status_code == 200 and tested.text.startswith('<div id="test-result"')
        assert "status 202" in tested.text
        await receiver.wait_for(1)
        full = await gw.client.post(
            f"/dashboard/webhooks/{webhook_id}/test", data={"csrf_token": csrf_of(edit.text)}
        )
        assert full.status_code == 200 and 'id="test-result"' in full.text and 'id="sign-out"' in full.text
        missing = await gw.client.post("/dashboard/webhooks/nothing/test", data={"csrf_token": csrf})
        assert missing.status_code == 404
        await gw.client.post("/dashboard/webhooks/new", data=form(csrf, name="down"))  # 127.0.0.1:9: closed
        ids = rows((await gw.client.get("/dashboard/webhooks")).text, "data-webhook-id")
        (down,) = [i for i in ids if i != webhook_id]
        failed = await gw.client.post(
            f"/dashboard/webhooks/{down}/test", data={"csrf_token": csrf}, headers={"HX-Request": "true"}
        )
        assert failed.status_code == 200 and "Test failed:" in failed.text
