"""Dead letters and replay through the real gateway, on both stores: deliveries that exhaust their retries
(or meet 410) are listed as `failed` and paged; once the receiver recovers, a bulk resend by filter
delivers them under their own webhook-ids, once per request id, also after a restart (the log and the
bodies survive it); two gateways on one Redis see one log and resend each other's deliveries; bad filters
are a 400 naming the parameter or field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from tests.e2e.conftest import seed_classic

# Two attempts, a tiny backoff: a delivery is given up within the test's bounded waits.
FAILING_FAST = {"events": {"retry_max_attempts": 2, "retry_base_delay": 0.01, "retry_max_delay": 0.02}}


async def fire(gw: RunningGateway, events: int) -> None:
    """The seed API allows 2 requests per 10 s: each request past them fires one RatelimitExceeded."""
    codes = [(await gw.client.get("/example-local-webhook/get")).status_code for _ in range(2 + events)]
    assert codes == [200, 200] + [429] * events


async def listing(gw: RunningGateway, query: str = "") -> dict[str, Any]:
    answer = await gw.admin("GET", "/tyk/webhooks/deliveries" + query)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def bulk(gw: RunningGateway, **body: Any) -> dict[str, Any]:
    answer = await gw.admin("POST", "/tyk/webhooks/deliveries/resend", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_bulk_resend_cut_by_a_restart_goes_on_once_per_request_id(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder(status=500)
    config = {**store_config, **FAILING_FAST}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config=config) as gw:
            await fire(gw, 2)
            await recorder.wait_for(4)
            await gw.idle()
            failed = await listing(gw, "?status=failed")
            ids = {a["webhook_id"] for a in failed["deliveries"]}
            assert len(ids) == 2 and failed["count"] == 2 and failed["next"] is None
            assert {(a["state"], a["outcome"], a["status"]) for a in failed["deliveries"]} == {
                ("failed", "given up", 500)
            }
            first = await listing(gw, "?limit=1")
            second = await listing(gw, f"?limit=1&before={first['next']}")
            assert first["count"] == second["count"] == 1
            assert first["deliveries"][0] != second["deliveries"][0]
            assert (await listing(gw, f"?target={hook.url}/hook"))["count"] == 4
            assert (await listing(gw, "?target=http://elsewhere/hook"))["count"] == 0

            recorder.status = 200
            # The first page of a bulk resend, then the gateway stops: the client will call again.
            page = await bulk(gw, request_id="replay-1", api_id="seed-classic", limit=1)
            assert (page["status"], page["resent"], page["missing"]) == ("ok", 1, [])
            assert page["next"] is not None
            (one,) = page["ids"]
            await recorder.wait_for(5)
            await gw.idle()

        # After the restart the log and the bodies are still there (this process kept none in memory).
        async with run_gateway(tmp_path, apis=[api], config=config) as gw:
            assert (await listing(gw))["count"] == 5
            rest = await bulk(gw, request_id="replay-1", api_id="seed-classic")
            assert rest["resent"] == 1 and rest["ids"] == sorted(ids - {one})
            await recorder.wait_for(6)
            await gw.idle()
            again = await bulk(gw, request_id="replay-1")
            header = await gw.admin(
                "POST", "/tyk/webhooks/deliveries/resend", json={}, headers={"Idempotency-Key": "replay-1"}
            )
            nothing_failed = await bulk(gw, request_id="replay-2")  # their newest attempts delivered
            assert again["resent"] == header.json()["resent"] == nothing_failed["resent"] == 0
            assert (await listing(gw, "?status=delivered"))["count"] == 2
            answer = await gw.admin("POST", f"/tyk/webhooks/deliveries/{one}/resend")
            assert answer.status_code == 200, answer.text
            await recorder.wait_for(7)
            await gw.idle()
    resent = recorder.deliveries[4:]
    assert [d.headers["webhook-id"] for d in resent] == [one, *sorted(ids - {one}), one]
    assert resent[2].body == resent[0].body


async def test_a_gone_target_is_failed_and_a_resend_by_filter_reaches_it_again(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder(status=410)
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/gone", cooldown=0)
        async with run_gateway(tmp_path, apis=[api], config={**store_config, **FAILING_FAST}) as gw:
            await fire(gw, 1)
            (first,) = await recorder.wait_for(1)
            await gw.idle()
            (attempt,) = (await listing(gw, "?status=gone"))["deliveries"]
            assert (attempt["state"], attempt["status"]) == ("failed", 410)
            assert (await listing(gw, "?status=failed&event=RatelimitExceeded"))["count"] == 1
            done = await bulk(gw, event="RatelimitExceeded", since=attempt["time"] - 1, limit=10)
            assert done["ids"] == [attempt["webhook_id"]]
    # The gateway remembers the 410 for the target: the resend is given up at once, never sent again.
    assert len(recorder.deliveries) == 1 and first.headers["webhook-id"] == attempt["webhook_id"]


async def test_two_gateways_on_one_redis_see_one_log(
    tmp_path: Path, redis_server: Any, redis_flush: Any
) -> None:
    recorder = WebhookRecorder(status=500)
    config = {"storage": {"type": "redis", "host": redis_server.host, "port": redis_server.port}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = seed_classic(upstream.url, f"{hook.url}/hook", cooldown=0)
        async with (
            run_gateway(tmp_path / "a", apis=[api], config={**config, **FAILING_FAST}) as a,
            run_gateway(tmp_path / "b", config=config, http=False) as b,
        ):
            await fire(a, 1)
            await recorder.wait_for(2)
            await a.idle()

            async def seen_by_b() -> bool:
                return (await listing(b, "?status=failed"))["count"] == 1

            await eventually(seen_by_b, "gateway b to list gateway a's failed delivery")
            (failed,) = (await listing(b, "?status=failed"))["deliveries"]
            recorder.status = 200
            answer = await b.admin("POST", f"/tyk/webhooks/deliveries/{failed['webhook_id']}/resend")
            assert answer.status_code == 200, answer.text
            (again,) = (await recorder.wait_for(3))[2:]
            await b.idle()
            await a.idle()
    assert again.headers["webhook-id"] == failed["webhook_id"]


async def test_bad_filters_are_refused_naming_the_parameter(tmp_path: Path) -> None:
    async with run_gateway(tmp_path, http=False) as gw:
        queries = ["status=lost", "limit=0", "limit=1001", "limit=ten", "before=yesterday", "since=soon"]
        listed = [(await gw.admin("GET", "/tyk/webhooks/deliveries?" + q)).json() for q in queries]
        bodies: list[Any] = [
            {"status": "lost"},
            {"limit": 5000},
            {"since": "yesterday"},
            {"api_id": 7},
            {"request_id": 5},
            {"bogus": 1},
            {"before": "x"},
        ]
        answers = [await gw.admin("POST", "/tyk/webhooks/deliveries/resend", json=b) for b in bodies]
        not_object = await gw.admin("POST", "/tyk/webhooks/deliveries/resend", json=[1])
        empty = await bulk(gw)
    assert [b["message"].split(":")[0] for b in listed] == [
        "status",
        "limit",
        "limit",
        "limit",
        "before",
        "since",
    ]
    assert [a.status_code for a in answers] == [400] * len(bodies)
    assert [a.json()["message"].split(":")[0] for a in answers] == [
        "status",
        "limit",
        "since",
        "api_id",
        "request_id",
        "bogus",
        "before",
    ]
    assert not_object.status_code == 400
    assert empty == {"status": "ok", "resent": 0, "ids": [], "missing": [], "next": None}
