"""The delivery tools of issue 16 on the Dashboard: the deliveries page shows each attempt's state and
filters by it (the REST API's `Filter`), its bulk form resends the failed ones through the same path as
`POST /tyk/webhooks/deliveries/resend`; the template preview page renders a template against a sample
event, or names what is wrong with it."""

from __future__ import annotations

import html
import re
from pathlib import Path

from gateway.events.catalog import Event
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.dashboard.conftest import ON, csrf_of, rows, sign_in
from tests.e2e.conftest import seed_classic

# Two attempts, a tiny backoff: a delivery is given up within the test's bounded waits.
FAILING_FAST = {"events": {"retry_max_attempts": 2, "retry_base_delay": 0.01, "retry_max_delay": 0.02}}


async def test_failed_deliveries_are_filtered_and_resent_in_bulk(tmp_path: Path) -> None:
    recorder = WebhookRecorder(status=500)
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config={**ON, **FAILING_FAST}) as gw:
            await sign_in(gw)
            codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(3)]
            assert codes == [200, 200, 429]  # one RatelimitExceeded: one delivery, two attempts
            await recorder.wait_for(2)
            await gw.idle()

            everything = await gw.client.get("/dashboard/deliveries")
            assert everything.status_code == 200
            assert rows(everything.text, "data-state") == ["failed", "retrying"]
            assert 'id="resend-failed"' not in everything.text  # only on the failed filter
            for state in ("all", "failed", "retrying", "delivered"):
                assert f'id="state-{state}"' in everything.text

            failed = await gw.client.get("/dashboard/deliveries?state=failed")
            assert rows(failed.text, "data-state") == ["failed"]
            assert 'id="resend-failed"' in failed.text
            delivered = await gw.client.get("/dashboard/deliveries?state=delivered")
            assert rows(delivered.text, "data-state") == []
            assert rows((await gw.client.get("/dashboard/deliveries?state=bogus")).text, "data-state") == [
                "failed",
                "retrying",
            ]  # an unknown state shows all

            forged = await gw.client.post("/dashboard/deliveries/resend", data={"csrf_token": "x"})
            assert forged.status_code == 403
            recorder.status = 200
            request_id = re.search(r'name="request_id" value="([^"]+)"', failed.text)
            assert request_id
            form = {"csrf_token": csrf_of(failed.text), "request_id": request_id.group(1)}
            resent = await gw.client.post("/dashboard/deliveries/resend", data=form)
            assert resent.status_code == 303
            assert resent.headers["location"] == "/dashboard/deliveries?state=failed"
            await recorder.wait_for(3)
            await gw.idle()
            after = await gw.client.get("/dashboard/deliveries?state=failed")
            assert "1 failed deliveries resent." in after.text
            assert rows(after.text, "data-state") == ["failed"]  # attempts are listed: the failed one stays
            again = await gw.client.post("/dashboard/deliveries/resend", data=form)  # the same request id
            assert again.status_code == 303
            shown = await gw.client.get("/dashboard/deliveries?state=delivered")
            assert "0 failed deliveries resent." in shown.text  # its newest attempt delivered: not failed
            assert rows(shown.text, "data-state") == ["delivered"]
    assert len(recorder.deliveries) == 3
    assert recorder.deliveries[2].headers["webhook-id"] == recorder.deliveries[0].headers["webhook-id"]


async def test_the_preview_page_renders_a_template_or_names_the_error(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, config=ON, http=False) as gw:
        csrf = await sign_in(gw)
        page = await gw.client.get("/dashboard/preview")
        assert page.status_code == 200
        assert 'href="/dashboard/preview"' in page.text
        for event in Event:
            assert f'<option value="{event.value}"' in page.text
        prefilled = re.search(r'<textarea id="template"[^>]*>(.*?)</textarea>', page.text, re.S)
        assert prefilled and "The gateway's default webhook body" in html.unescape(prefilled.group(1))

        template = '{"type": "{{.Type}}", "message": "{{.Meta.Message}}"}'
        good = await gw.client.post(
            "/dashboard/preview", data={"csrf_token": csrf, "event": "QuotaExceeded", "template": template}
        )
        assert good.status_code == 200, good.text
        rendered = re.search(r'<pre id="rendered">(.*?)</pre>', good.text, re.S)
        assert rendered and '"type": "QuotaExceeded"' in html.unescape(rendered.group(1))
        rest = await gw.admin(
            "POST", "/tyk/templates/preview", json={"event": "QuotaExceeded", "template": template}
        )
        assert html.unescape(rendered.group(1)) == rest.json()["body"]  # the same rendering as the REST API
        assert '<option value="QuotaExceeded" selected>' in good.text

        as_a_browser_sends_it = html.unescape(prefilled.group(1)).replace("\n", "\r\n")
        default = await gw.client.post(
            "/dashboard/preview",
            data={"csrf_token": csrf, "event": "QuotaExceeded", "template": as_a_browser_sends_it},
        )
        assert default.status_code == 200 and '"message": "Sample QuotaExceeded event"' in html.unescape(
            default.text
        )

        bad = await gw.client.post(
            "/dashboard/preview", data={"csrf_token": csrf, "event": "AuthFailure", "template": "{{.Type"}
        )
        assert bad.status_code == 400
        error = re.search(r'<p class="field-error" id="preview-error"[^>]*>(.*?)</p>', bad.text, re.S)
        assert error and html.unescape(error.group(1)).startswith("template: ")
        assert 'aria-invalid="true"' in bad.text and 'id="rendered"' not in bad.text
        assert "{{.Type" in html.unescape(bad.text)  # the text kept to fix

        unknown = await gw.client.post(
            "/dashboard/preview", data={"csrf_token": csrf, "event": "Nope", "template": template}
        )
        assert unknown.status_code == 400 and "event: " in html.unescape(unknown.text)
        forged = await gw.client.post(
            "/dashboard/preview", data={"csrf_token": "x", "event": "AuthFailure", "template": template}
        )
        assert forged.status_code == 403
