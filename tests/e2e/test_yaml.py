"""A GitOps folder served without Kubernetes, on both stores: app_path and policy_path one folder of YAML
files and Tyk Operator manifests. A YAML Classic and a YAML OAS API proxy to a real upstream; an Operator
ApiDefinition is guarded by the SecurityPolicy next to it, whose rate limit a key gets (429 and
RatelimitExceeded); what needs Kubernetes, and a broken file, are skipped by name while the rest serve;
the REST API refuses to rewrite what the files hold."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gateway.manifests import API_VERSION, derived_id
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import seed_oas


def operator(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, "namespace": "shop"},
        "spec": spec,
    }


def gitops(upstream: str, hook: str) -> list[dict[str, Any]]:
    """Operator's tutorial: an API with auth and a policy limiting it; plus one that needs Kubernetes."""
    webhook = {"handler_name": "eh_web_hook_handler", "handler_meta": {"method": "POST", "target_path": hook}}
    api = {
        "name": "httpbin protected",
        "protocol": "http",
        "active": True,
        "contextRef": {"name": "tyk", "namespace": "ops"},
        "proxy": {"target_url": upstream, "listen_path": "/httpbin/", "strip_listen_path": True},
        "use_standard_auth": True,
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "event_handlers": {"events": {"RatelimitExceeded": [webhook]}},
    }
    policy = {
        "name": "Rate limit",
        "state": "active",
        "active": True,
        "access_rights_array": [{"name": "httpbin", "namespace": "shop", "versions": ["Default"]}],
        "rate": 2,
        "per": 60,
    }
    secrets = {**api, "proxy": {**api["proxy"], "listen_path": "/tls/"}, "certificate_secret_names": ["tls"]}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes"}, "data": {"a": "b"}},
        operator("ApiDefinition", "httpbin", api),
        operator("SecurityPolicy", "gold", policy),
        operator("ApiDefinition", "tls", secrets),
    ]


async def test_a_gitops_folder_serves_without_kubernetes(
    tmp_path: Path, store_config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    apps = tmp_path / "apps"
    apps.mkdir()
    recorder = WebhookRecorder()
    config = {**store_config, "policies": {"policy_source": "file", "policy_path": "apps"}}
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        plain = {
            "api_id": "plain",
            "use_keyless": True,
            "proxy": {"listen_path": "/plain/", "target_url": upstream.url, "strip_listen_path": True},
        }
        (apps / "a-plain.yml").write_text(yaml.safe_dump(plain))
        (apps / "b-oas.yaml").write_text(yaml.safe_dump(seed_oas(upstream.url, hook.url + "/oas")))
        manifests = apps / "c-gitops.yaml"
        manifests.write_text(yaml.safe_dump_all(gitops(upstream.url, hook.url + "/limit")))
        (apps / "d-broken.yaml").write_text("api_id: broken\nproxy: {listen_path: /broken/\n")
        async with run_gateway(tmp_path, config=config) as gw:
            for path in ("/plain/x", "/example-local-webhook/y"):
                answer = await gw.client.get(path)
                assert (answer.status_code, answer.json()["path"]) == (200, "/" + path.split("/")[-1])

            policy_id, api_id = derived_id("shop", "gold"), derived_id("shop", "httpbin")
            created = await gw.admin("POST", "/tyk/keys", json={"apply_policies": [policy_id]})
            assert created.status_code == 200, created.text
            key = created.json()["key"]
            assert (await gw.client.get("/httpbin/x")).status_code == 401
            statuses = [(await gw.client.get("/httpbin/x", headers={"Authorization": key})) for _ in range(3)]
            assert [s.status_code for s in statuses] == [200, 200, 429]
            assert statuses[0].json()["path"] == "/x" and statuses[2].json()["error"] == "Rate Limit Exceeded"
            await gw.idle()
            [limited] = await recorder.wait_for(1)
            assert (limited.path, limited.json()["event"], limited.json()["key"]) == (
                "/limit",
                "RatelimitExceeded",
                key,
            )

            ids = sorted(a["api_id"] for a in (await gw.admin("GET", "/tyk/apis")).json())
            assert ids == sorted(["plain", "seed-oas", api_id])
            assert (await gw.admin("GET", f"/tyk/policies/{policy_id}")).json()["access_rights"][api_id][
                "api_name"
            ] == "httpbin protected"

            # The files are the source of truth: the REST API neither rewrites nor shadows them.
            where = f"{manifests} (document 3)"
            refused = await gw.admin(
                "PUT", f"/tyk/policies/{policy_id}", json={"id": policy_id, "rate": 100, "per": 1}
            )
            assert refused.status_code == 409 and where in refused.json()["message"]
            assert (await gw.admin("DELETE", f"/tyk/policies/{policy_id}")).status_code == 409
            assert (await gw.admin("DELETE", f"/tyk/apis/{api_id}")).status_code == 409
            again = await gw.admin(
                "POST", "/tyk/apis", json={**plain, "proxy": {**plain["proxy"], "listen_path": "/p2/"}}
            )
            assert again.status_code == 409 and str(apps / "a-plain.yml") in again.json()["message"]
            assert sorted(p.name for p in apps.iterdir()) == [
                "a-plain.yml",
                "b-oas.yaml",
                "c-gitops.yaml",
                "d-broken.yaml",
            ]
            assert (await gw.client.get("/tls/x")).status_code == 404  # skipped, the rest served

            # A policy the REST API writes into the shared folder is JSON, read as a policy, not an API.
            extra = {"id": "extra", "access_rights": {api_id: {"api_id": api_id}}, "rate": 100, "per": 1}
            assert (await gw.admin("POST", "/tyk/policies", json=extra)).status_code == 200
            assert (await gw.admin("GET", "/tyk/reload")).status_code == 200
            assert (await gw.admin("GET", "/tyk/policies/extra")).json()["rate"] == 100
            assert "extra.json" not in caplog.text
    assert (
        f"{manifests} (document 4): $.spec.certificate_secret_names: names Kubernetes Secrets" in caplog.text
    )
    assert (
        f"{apps / 'd-broken.yaml'}: not valid YAML: while parsing a flow mapping at line 2 column 8"
        in caplog.text
    )
    assert f"{manifests} (document 1): kind ConfigMap skipped: not an API definition" in caplog.text
