"""Security policies end to end, on both stores: policies written through /tyk/policies and served after a
reload; keys that name them get their access rights, rate limit and quota from them (with the events
those limits fire, delivered by a webhook); a change reaches the key on reload without rewriting it; a key
whose policy is gone is refused with AuthFailure; keys naming unknown policies are refused at creation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event

EVENTS = ("RatelimitExceeded", "QuotaExceeded", "AuthFailure")
RIGHTS = {"pol": {"api_id": "pol", "api_name": "pol", "versions": ["Default"]}}


def api(upstream: str, hook: str) -> dict[str, Any]:
    hooks = hooks_per_event(hook, EVENTS)
    return {
        "api_id": "pol",
        "org_id": "org1",
        "name": "pol",
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/pol/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks},
    }


def policy(policy_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": policy_id, "name": policy_id, "org_id": "org1", "access_rights": RIGHTS, **fields}


async def status(gw: RunningGateway, key: str) -> int:
    return (await gw.client.get("/pol/x", headers={"Authorization": key})).status_code


async def key_with(gw: RunningGateway, *policies: str) -> str:
    created = await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": list(policies)})
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


def events(recorder: WebhookRecorder, event: str) -> list[dict[str, Any]]:
    return [d.json() for d in recorder.deliveries if d.path == f"/hook/{event}"]


async def test_policy_limits_events_changes_and_refusals(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    config = {**store_config, "policies": {"policy_source": "file", "policy_path": "policies"}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            written = await gw.admin("POST", "/tyk/policies", json=policy("gold", rate=2, per=60))
            assert written.json() == {"key": "gold", "status": "ok", "action": "added"}
            bronze = policy("bronze", quota_max=1, quota_renewal_rate=3600)
            assert (await gw.admin("POST", "/tyk/policies", json=bronze)).status_code == 200
            assert (await gw.admin("GET", "/tyk/policies/gold")).status_code == 404  # served after a reload
            assert (await gw.admin("GET", "/tyk/reload")).status_code == 200
            assert (await gw.admin("GET", "/tyk/policies/gold")).json()["rate"] == 2
            assert sorted(p["id"] for p in (await gw.admin("GET", "/tyk/policies")).json()) == [
                "bronze",
                "gold",
            ]

            # A preview shows the key as it would be saved, policies applied, and writes nothing.
            keys_before = (await gw.admin("GET", "/tyk/keys")).json()
            preview = await gw.admin(
                "POST", "/tyk/keys/preview", json={"org_id": "org1", "apply_policies": ["gold"]}
            )
            assert (preview.json()["rate"], list(preview.json()["access_rights"])) == (2, ["pol"])
            assert (await gw.admin("GET", "/tyk/keys")).json() == keys_before

            # An unknown policy: Tyk's 500 at creation, nothing stored.
            refused = await gw.admin("POST", "/tyk/keys", json={"org_id": "org1", "apply_policies": ["nope"]})
            assert refused.status_code == 500
            assert refused.json()["message"] == "Failed to create key, ensure security settings are correct."

            # The rate limit and its event come from the policy; the key has no rights of its own.
            gold = await key_with(gw, "gold")
            assert [await status(gw, gold) for _ in range(3)] == [200, 200, 429]
            # The quota and its event from another policy.
            silver = await key_with(gw, "bronze")
            assert [await status(gw, silver) for _ in range(2)] == [200, 403]
            await gw.idle()
            await recorder.wait_for(2)
            assert [e["key"] for e in events(recorder, "RatelimitExceeded")] == [gold]
            assert [e["key"] for e in events(recorder, "QuotaExceeded")] == [silver]

            # A changed policy reaches the key at the next reload, the key itself untouched.
            stored = (await gw.admin("GET", f"/tyk/keys/{gold}")).json()
            assert (
                await gw.admin("PUT", "/tyk/policies/gold", json=policy("gold", rate=100, per=60))
            ).status_code == 200
            await gw.admin("GET", "/tyk/reload")
            assert await status(gw, gold) == 200
            assert (await gw.admin("GET", f"/tyk/keys/{gold}")).json() == stored

            # A key whose only policy is gone is refused as Tyk refuses it, with AuthFailure.
            assert (await gw.admin("DELETE", "/tyk/policies/bronze")).json()["action"] == "deleted"
            await gw.admin("GET", "/tyk/reload")
            gone = await gw.client.get("/pol/x", headers={"Authorization": silver})
            assert (gone.status_code, gone.json()["error"]) == (403, "Access to this API has been disallowed")
            await gw.idle()
            assert [e["key"] for e in events(recorder, "AuthFailure")] == [silver]

            # POST /tyk/keys/policy/{key} gives the key other policies (it was misrouted to a new key).
            moved = await gw.admin("POST", f"/tyk/keys/policy/{silver}", json={"apply_policies": ["gold"]})
            assert moved.json() == {"key": silver, "status": "ok", "action": "updated"}
            assert await status(gw, silver) == 200
            assert (await gw.admin("GET", "/tyk/keys/policy")).status_code == 404  # no key named so


async def test_bad_policy_files_are_skipped_by_name_and_the_rest_serve(tmp_path: Path, caplog: Any) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "good.json").write_text('{"id": "good", "org_id": "org1", "access_rights": {"pol": {}}}')
    (folder / "typed.json").write_text('{"id": "typed", "rate": "fast"}')
    (folder / "broken.json").write_text("{not json")
    config = {"policies": {"policy_path": "policies"}}
    async with await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[api(upstream.url, "http://127.0.0.1:1")], config=config) as gw:
            assert [p["id"] for p in (await gw.admin("GET", "/tyk/policies")).json()] == ["good"]
            key = await key_with(gw, "good")
            assert await status(gw, key) == 200
    assert f'{folder / "typed.json"}: $.rate: expected a finite number, got "fast"' in caplog.text
    assert f"{folder / 'broken.json'}: not valid JSON" in caplog.text
