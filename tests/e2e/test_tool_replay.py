"""The calls Tyk's own tools make against the Gateway API, replayed in their order and with their bodies, on
both stores: Tyk Operator in OSS mode (its gateway client: APIs created and updated by POST /tyk/apis,
policies by POST and PUT /tyk/policies, certificates uploaded as a multipart form holding key and
certificate, OAS APIs by raw body, and GET /tyk/reload/group after each change) and tyk-sync (the list at
/tyk/apis/ to tell a create from an update by id and listen path, then POST, PUT and DELETE with a
trailing-slash base). Each answer is checked as the tools read it; the key's limits prove the result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.testing import RunningGateway, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_oas
from tests.pki import PKI, cert_pem

OK = {"status": "ok"}


def operator_api(upstream: str, listen: str = "/httpbin/") -> dict[str, Any]:
    """An ApiDefinition's spec as Operator sends it: Go's zero values included."""
    return {
        "name": "httpbin",
        "api_id": "ZGVmYXVsdC9odHRwYmlu",  # Operator's id: base64 of namespace/name
        "org_id": "",
        "active": True,
        "use_keyless": False,
        "use_standard_auth": True,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "protocol": "http",
        "proxy": {"listen_path": listen, "target_url": upstream, "strip_listen_path": True},
        "version_data": {
            "default_version": "Default",
            "not_versioned": True,
            "versions": {"Default": {"name": "Default", "use_extended_paths": True}},
        },
        "do_not_track": False,
        "enable_detailed_recording": False,
        "tags": [],
    }


def operator_policy(rate: int) -> dict[str, Any]:
    return {
        "_id": "",
        "id": "ZGVmYXVsdC9odHRwYmluLXBvbGljeQ",
        "name": "httpbin policy",
        "org_id": "",
        "state": "active",
        "active": True,
        "rate": rate,
        "per": 60,
        "quota_max": -1,
        "quota_renewal_rate": -1,
        "throttle_interval": -1,
        "throttle_retry_limit": -1,
        "access_rights": {
            "ZGVmYXVsdC9odHRwYmlu": {
                "api_id": "ZGVmYXVsdC9odHRwYmlu",
                "api_name": "httpbin",
                "versions": ["Default"],
                "allowed_urls": [],
            }
        },
        "tags": [],
        "meta_data": {},
    }


def multipart(name: str, content: bytes) -> tuple[bytes, str]:
    """A body as Go's multipart.Writer makes it for CreateFormFile("cert", "cert.pem")."""
    boundary = "d2b3c9f1e0a84b7c"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="cert.pem"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def reload_group(gw: RunningGateway) -> None:
    """Operator's HotReload and tyk-sync's Reload: 200, and a body whose status is "ok"."""
    resp = await gw.admin("GET", "/tyk/reload/group")
    assert resp.status_code == 200 and resp.json()["status"] == "ok", resp.text


async def codes(gw: RunningGateway, path: str, key: str, count: int) -> list[int]:
    return [(await gw.client.get(path, headers={"Authorization": key})).status_code for _ in range(count)]


async def test_tyk_operator_oss_mode(tmp_path: Path, store_config: dict[str, Any]) -> None:
    config = {**store_config, "policies": {"policy_source": "file", "policy_path": "policies"}}
    async with await serve(echo_app) as upstream, run_gateway(tmp_path, apis=[], config=config) as gw:
        api = operator_api(upstream.url)
        created = await gw.admin("POST", "/tyk/apis", json=api)
        assert created.json() == {"key": api["api_id"], "status": "ok", "action": "added"}
        await reload_group(gw)
        assert (await gw.admin("GET", f"/tyk/apis/{api['api_id']}")).json() == api
        assert [a["api_id"] for a in (await gw.admin("GET", "/tyk/apis")).json()] == [api["api_id"]]

        made = await gw.admin("POST", "/tyk/policies", json=operator_policy(rate=2))
        assert made.status_code == 200 and made.json()["status"] == "ok"
        await reload_group(gw)
        # Operator lists with ?p=-2 (the Dashboard's paging); the gateway, as Tyk's, answers a list.
        listed = await gw.admin("GET", "/tyk/policies?p=-2")
        assert [p["id"] for p in listed.json()] == [operator_policy(2)["id"]]
        key = (
            await gw.admin("POST", "/tyk/keys", json={"apply_policies": [operator_policy(2)["id"]]})
        ).json()
        assert await codes(gw, "/httpbin/get", key["key"], 3) == [200, 200, 429]

        # Update: Operator posts the whole API again, and PUTs the policy.
        moved = await gw.admin("POST", "/tyk/apis", json=operator_api(upstream.url, "/moved/"))
        assert moved.status_code == 200 and moved.json()["status"] == "ok"
        raised = await gw.admin("PUT", f"/tyk/policies/{operator_policy(2)['id']}", json=operator_policy(5))
        assert raised.status_code == 200
        await reload_group(gw)
        assert (await gw.client.get("/httpbin/get", headers={"Authorization": key["key"]})).status_code == 404
        assert await codes(gw, "/moved/get", key["key"], 1) == [200]  # the window restarted with the policy

        # A certificate: key then certificate in one form file, as Operator uploads a TLS secret.
        leaf = PKI().client("operator.example")
        body, kind = multipart("cert", leaf.private_key_pem.bytes() + cert_pem(leaf))
        uploaded = await gw.admin("POST", "/tyk/certs", content=body, headers={"content-type": kind})
        assert uploaded.status_code == 200, uploaded.text
        cert_id = uploaded.json()["id"]
        assert uploaded.json() == {"id": cert_id, "status": "ok", "message": "Certificate added"}
        assert (await gw.admin("GET", f"/tyk/certs/{cert_id}")).json()["has_private"] is True
        assert cert_id in (await gw.admin("GET", "/tyk/certs")).json()["certs"]

        # An OAS API: created from a raw body, updated by PUT, deleted.
        doc = seed_oas(upstream.url, "http://127.0.0.1:9/")
        added = await gw.admin("POST", "/tyk/apis/oas", content=json.dumps(doc))
        assert added.json() == {"key": "seed-oas", "status": "ok", "action": "added"}
        await reload_group(gw)
        doc["x-tyk-api-gateway"]["info"]["name"] = "renamed"
        updated = await gw.admin("PUT", "/tyk/apis/oas/seed-oas", content=json.dumps(doc))
        assert updated.status_code == 200 and updated.json()["action"] == "modified"
        await reload_group(gw)
        assert (await gw.admin("GET", "/tyk/apis/seed-oas")).json()["name"] == "renamed"

        for path in (
            f"/tyk/certs/{cert_id}",
            "/tyk/apis/oas/seed-oas",
            f"/tyk/policies/{operator_policy(2)['id']}",
            f"/tyk/apis/{api['api_id']}",
        ):
            assert (await gw.admin("DELETE", path)).status_code == 200, path
        await reload_group(gw)
        assert (await gw.admin("GET", "/tyk/apis")).json() == []
        assert (await gw.client.get("/moved/get", headers={"Authorization": key["key"]})).status_code == 404


async def test_tyk_sync_publish_update_and_sync(tmp_path: Path, store_config: dict[str, Any]) -> None:
    async with await serve(echo_app) as upstream, run_gateway(tmp_path, apis=[], config=store_config) as gw:
        keyless = {**operator_api(upstream.url, "/synced/"), "api_id": "synced", "use_keyless": True}
        # tyk-sync reads the list first (id, slug and listen path + domain tell create from update).
        listed = await gw.admin("GET", "/tyk/apis/")
        assert listed.status_code == 200 and listed.json() == []
        created = await gw.admin("POST", "/tyk/apis/", json=keyless)
        assert created.json()["status"] == "ok"
        await reload_group(gw)
        existing = (await gw.admin("GET", "/tyk/apis/")).json()
        assert [(a["api_id"], a["proxy"]["listen_path"], a.get("domain", "")) for a in existing] == [
            ("synced", "/synced/", "")
        ]
        assert (await gw.client.get("/synced/x")).status_code == 200

        renamed = {**keyless, "name": "synced twice"}
        assert (await gw.admin("PUT", "/tyk/apis/synced", json=renamed)).status_code == 200
        await reload_group(gw)
        assert (await gw.admin("GET", "/tyk/apis/synced")).json()["name"] == "synced twice"

        body, kind = multipart("cert", cert_pem(PKI().client("sync.example")))
        uploaded = await gw.admin("POST", "/tyk/certs", content=body, headers={"content-type": kind})
        assert uploaded.status_code == 200 and uploaded.json()["status"] == "ok", uploaded.text

        assert (await gw.admin("DELETE", "/tyk/apis/synced")).status_code == 200  # "/tyk/apis/" + id
        await reload_group(gw)
        assert (await gw.client.get("/synced/x")).status_code == 404
