"""Tyk JavaScript event handlers through the real gateway, on both stores, from Classic and OAS: the
handler hears QuotaExceeded, reads the key with TykGetKeyData, raises its quota with TykSetKeyData, and
reports through TykMakeHttpRequest; the REST API then shows the new quota."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.test_limits import api, get, new_key
from tests.e2e.test_monitor import oas_api

HANDLER = """
var quotaHandler = new TykJS.TykEventHandlers.NewEventHandler({});
quotaHandler.NewHandler(function(event, context) {
    var key = event.EventMetaData.Key;
    var session = JSON.parse(TykGetKeyData(key, context.APIID));
    session.quota_max = 3;
    TykSetKeyData(key, JSON.stringify(session), "0");
    TykMakeHttpRequest(JSON.stringify({
        Method: "POST", Domain: "%(url)s", Resource: "/js", Headers: {},
        Body: JSON.stringify({event: event.EventType, org: session.org_id, api: context.APIID})
    }));
});
"""


@pytest.mark.parametrize("kind", ["classic", "oas"])
async def test_js_handler_reads_and_changes_the_key(
    tmp_path: Path, store_config: dict[str, Any], kind: str
) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        (tmp_path / "middleware").mkdir()
        (tmp_path / "middleware" / "quota.js").write_text(HANDLER % {"url": hook.url})
        if kind == "classic":
            spec = api(upstream.url, hook.url + "/hook")
            spec["event_handlers"]["events"]["QuotaExceeded"] = [
                {
                    "handler_name": "eh_dynamic_handler",
                    "handler_meta": {"name": "quotaHandler", "path": "quota.js"},
                }
            ]
        else:
            spec = oas_api(upstream.url)
            entry = {"enabled": True, "trigger": "QuotaExceeded", "type": "custom"}
            spec["x-tyk-api-gateway"]["server"]["eventHandlers"] = [
                {**entry, "functionName": "quotaHandler", "path": "quota.js"}
            ]
        config = {**store_config, "middleware_path": "middleware"}
        async with run_gateway(tmp_path, apis=[spec], config=config) as gw:
            key = await new_key(gw, quota_max=1, quota_renewal_rate=3600)
            assert [(await get(gw, key))[0] for _ in range(2)] == [200, 403]
            (report,) = await recorder.wait_for(1, timeout=10)
            await gw.idle()
            shown = (await gw.admin("GET", f"/tyk/keys/{key}")).json()
            # The handler reset the quota ("0") and raised it: the key is served again.
            assert (await get(gw, key))[0] == 200
    assert report.path == "/js"
    assert report.json() == {"event": "QuotaExceeded", "org": "org1", "api": "lim"}
    assert shown["quota_max"] == 3
