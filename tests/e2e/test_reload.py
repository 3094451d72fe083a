"""Hot reload: APIs posted through the REST API are served after /tyk/reload, and a request in
flight during the reload finishes on the table it started with."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.testing import StallingApp, echo_app, run_gateway, serve


async def test_posted_api_is_served_after_reload_and_in_flight_requests_finish(tmp_path: Path) -> None:
    stalled = StallingApp()
    async with await serve(echo_app) as upstream, await serve(stalled) as slow:
        first = {
            "api_id": "slow",
            "name": "slow",
            "use_keyless": True,
            "proxy": {"listen_path": "/slow/", "target_url": slow.url, "strip_listen_path": True},
        }
        async with run_gateway(tmp_path, apis=[first]) as gw:
            in_flight = asyncio.create_task(gw.client.get("/slow/wait"))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 10
            while stalled.arrived < 1 and loop.time() < deadline:
                await asyncio.sleep(0.01)  # bounded poll: the request has reached the upstream
            new = {
                "api_id": "fresh",
                "name": "fresh",
                "use_keyless": True,
                "proxy": {"listen_path": "/fresh/", "target_url": upstream.url, "strip_listen_path": True},
            }
            assert (await gw.admin("POST", "/tyk/apis", json=new)).json()["action"] == "added"
            assert (await gw.client.get("/fresh/x")).status_code == 404  # Tyk: served after a reload
            assert (await gw.admin("GET", "/tyk/reload")).json() == {"status": "ok", "message": ""}
            assert (await gw.client.get("/fresh/x")).status_code == 200
            assert (tmp_path / "apps" / "fresh.json").is_file()
            stalled.release()
            assert (await in_flight).status_code == 200


async def test_keys_and_apis_survive_a_restart_on_the_embedded_store(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        api = {
            "api_id": "k",
            "name": "k",
            "use_keyless": False,
            "auth": {"auth_header_name": "Authorization"},
            "proxy": {"listen_path": "/k/", "target_url": upstream.url, "strip_listen_path": True},
        }
        session = {
            "org_id": "o",
            "rate": 10,
            "per": 1,
            "access_rights": {"k": {"api_id": "k", "versions": []}},
        }
        async with run_gateway(tmp_path, apis=[api]) as gw:
            key = (await gw.admin("POST", "/tyk/keys", json=session)).json()["key"]
            posted = {**api, "api_id": "k2", "proxy": {**api["proxy"], "listen_path": "/k2/"}}  # type: ignore[dict-item]
            assert (await gw.admin("POST", "/tyk/apis", json=posted)).status_code == 200
        async with run_gateway(tmp_path, apis=[api]) as gw:
            assert (await gw.client.get("/k/", headers={"Authorization": key})).status_code == 200
            # Served (not 404), and refused because the key's access rights predate it.
            assert (await gw.client.get("/k2/", headers={"Authorization": key})).status_code == 403
            assert (await gw.admin("GET", f"/tyk/keys/{key}")).status_code == 200
