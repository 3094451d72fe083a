"""Versioning end to end (TYK-REFERENCE 7.10): real gateway, echo upstream and webhook receiver, both
stores. Legacy failures are 403 + one VersionFailure each; base/child dispatch fires nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.chain import version_check as vc
from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve
from gateway.testing.recorder import Delivery

TEMPLATE = (
    '{"event": "{{.Type}}", "message": "{{.Meta.Message}}", "path": "{{.Meta.Path}}", '
    '"origin": "{{.Meta.Origin}}", "key": "{{.Meta.Key}}", "reason": "{{.Meta.Reason}}"}'
)
FUTURE, FUTURE_HEADER = "2099-01-01 00:00", "Thu, 01 Jan 2099 00:00:00 UTC"
PAST = "2000-01-01 00:00"
DISALLOWED = "Access to this API has been disallowed"


def hooks(tmp_path: Path, hook: str) -> dict[str, Any]:
    template = tmp_path / "templates" / "version.json"  # inside template_path, where templates must be
    template.parent.mkdir(exist_ok=True)
    template.write_text(TEMPLATE)
    meta = {"method": "POST", "target_path": hook, "template_path": str(template), "event_timeout": 0}
    return {"events": {"VersionFailure": [{"handler_name": "eh_web_hook_handler", "handler_meta": meta}]}}


def classic(api_id: str, listen: str, upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "org_id": "org1",
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": upstream, "strip_listen_path": True},
        **extra,
    }


def oas(api_id: str, listen: str, upstream: str, tmp_path: Path, hook: str, **info: Any) -> dict[str, Any]:
    template = tmp_path / "templates" / "version.json"  # inside template_path, where templates must be
    template.parent.mkdir(exist_ok=True)
    template.write_text(TEMPLATE)
    handler = {
        "enabled": True,
        "trigger": "VersionFailure",
        "type": "webhook",
        "url": hook,
        "method": "POST",
        "bodyTemplate": str(template),
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": api_id, "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": api_id, "name": api_id, "state": {"active": True}, **info},
            "server": {"listenPath": {"value": listen, "strip": True}, "eventHandlers": [handler]},
            "upstream": {"url": upstream},
        },
    }


def versioned(location: str, key: str, **extra: Any) -> dict[str, Any]:
    return {
        "version_data": {
            "not_versioned": False,
            "default_version": "v1",
            "versions": {"v1": {"name": "v1"}, "v2": {"expires": FUTURE}, "old": {"expires": PAST}},
        },
        "definition": {"location": location, "key": key, "strip_versioning_data": True},
        **extra,
    }


def asking(location: str, version: str, path: str = "/items") -> dict[str, Any]:
    """Request arguments naming `version` at `location`."""
    if location == "header":
        return {"url": "/v" + path, "headers": {"x-api-version": version}}
    if location == "url-param":
        return {"url": "/v" + path, "params": {"a": "1", "version": version}}
    return {"url": f"/v/{version}{path}"}


def event(delivery: Delivery, path: str, reason: str, key: str = "") -> None:
    assert delivery.json() == {
        "event": "VersionFailure",
        "message": "Attempted access to disallowed version / path.",
        "path": path,
        "origin": "127.0.0.1",
        "key": key,
        "reason": reason,
    }


@pytest.mark.parametrize("location", ["header", "url-param", "url"])
async def test_legacy_versions(tmp_path: Path, location: str, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    key = "version" if location == "url-param" else "x-api-version"
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = classic("v", "/v/", upstream.url + "/up", event_handlers=hooks(tmp_path, hook.url))
        api.update(versioned(location, key))
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            # With the version in the URL, any first segment names one: only the bare root has none.
            default = await gw.client.get("/v/" if location == "url" else "/v/items")
            v2 = await gw.client.request("GET", **asking(location, "v2"))
            unknown = await gw.client.request("GET", **asking(location, "v9"))
            old = await gw.client.request("GET", **asking(location, "old"))
            await recorder.wait_for(2)
            await gw.idle()
    # No version named: the default (v1) serves; v1 never expires, so no expiry header.
    assert default.status_code == 200 and "x-tyk-api-expires" not in default.headers
    assert v2.status_code == 200 and v2.headers["x-tyk-api-expires"] == FUTURE_HEADER
    echoed = v2.json()
    # strip_versioning_data: the version leaves by no route.
    assert echoed["path"] == "/up/items"
    assert echoed["query"] == ("a=1" if location == "url-param" else "")
    assert "x-api-version" not in dict(echoed["headers"])
    for response, reason in ((unknown, vc.DOES_NOT_EXIST), (old, vc.VERSION_EXPIRED)):
        assert (response.status_code, response.json()) == (403, {"error": reason})
    assert len(recorder.deliveries) == 2
    paths = {"url": ["/v/v9/items", "/v/old/items"]}.get(location, ["/v/items", "/v/items"])
    event(recorder.deliveries[0], paths[0], vc.DOES_NOT_EXIST)
    event(recorder.deliveries[1], paths[1], vc.VERSION_EXPIRED)


@pytest.mark.parametrize(("fmt", "mode"), [("classic", "quotas"), ("oas", "rate_limits")])
async def test_api_expiration(tmp_path: Path, fmt: str, mode: str, store_config: dict[str, Any]) -> None:
    """An expired API refuses with VersionFailure; an expiring one says when, in either header mode."""
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        if fmt == "classic":
            single = {"not_versioned": True, "versions": {"Default": {"name": "Default"}}}
            gone = classic("gone", "/gone/", upstream.url, expiration=PAST, version_data=single)
            soon = classic("soon", "/soon/", upstream.url, expiration=FUTURE, version_data=single)
            # not_versioned: whatever version the request names is ignored.
            soon["definition"] = {"location": "header", "key": "x-api-version"}
            gone["event_handlers"] = soon["event_handlers"] = hooks(tmp_path, hook.url)
        else:
            gone = oas("gone", "/gone/", upstream.url, tmp_path, hook.url, expiration=PAST)
            soon = oas("soon", "/soon/", upstream.url, tmp_path, hook.url, expiration=FUTURE)
        config = {**store_config, "rate_limit_response_headers": mode}
        async with run_gateway(tmp_path, apis=[gone, soon], config=config) as gw:
            refused = await gw.client.get("/gone/x")
            served = await gw.client.get("/soon/x", headers={"x-api-version": "nonsense"})
            (delivery,) = await recorder.wait_for(1)
            await gw.idle()
    assert (refused.status_code, refused.json()) == (403, {"error": vc.API_EXPIRED})
    assert "x-tyk-api-expires" not in refused.headers
    assert served.status_code == 200 and served.headers["x-tyk-api-expires"] == FUTURE_HEADER
    assert len(recorder.deliveries) == 1
    event(delivery, "/gone/x", vc.API_EXPIRED)


async def test_a_key_lacking_the_version(tmp_path: Path, store_config: dict[str, Any]) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        api = classic("v", "/v/", upstream.url, use_keyless=False, event_handlers=hooks(tmp_path, hook.url))
        api.update(versioned("header", "x-api-version"))
        async with run_gateway(tmp_path, apis=[api], config=store_config) as gw:
            rights = {"v": {"api_id": "v", "api_name": "v", "versions": ["v1"]}}
            body = {"org_id": "org1", "rate": 0, "per": 0, "quota_max": -1, "access_rights": rights}
            created = await gw.admin("POST", "/tyk/keys/mine", json=body)
            assert created.status_code == 200, created.text
            key = created.json()["key"]

            def call(version: str) -> Any:
                return gw.client.get("/v/x", headers={"Authorization": "mine", "x-api-version": version})

            allowed = await call("v1")
            refused = await call("v2")
            unknown = await call("v9")  # VersionCheck runs before auth: no key in the meta
            await recorder.wait_for(2)
            await gw.idle()
    assert allowed.status_code == 200
    assert (refused.status_code, refused.json()) == (403, {"error": DISALLOWED})
    assert (unknown.status_code, unknown.json()) == (403, {"error": vc.DOES_NOT_EXIST})
    assert len(recorder.deliveries) == 2
    event(recorder.deliveries[0], "/v/x", DISALLOWED, key=key)
    event(recorder.deliveries[1], "/v/x", vc.DOES_NOT_EXIST)


def base_child(fmt: str, upstream: str, tmp_path: Path, hook: str) -> list[dict[str, Any]]:
    child = classic("child-2", "/child-2/", upstream + "/two")
    versioning = {"enabled": True, "name": "v1", "default": "self", "location": "header"}
    if fmt == "classic":
        base = classic("base", "/base/", upstream + "/one", event_handlers=hooks(tmp_path, hook))
        base["definition"] = {
            **versioning,
            "key": "x-api-version",
            "strip_versioning_data": True,
            "versions": {"v2": "child-2", "v3": "missing"},
        }
        return [base, child]
    children = [{"name": "v2", "id": "child-2"}, {"name": "v3", "id": "missing"}]
    oas_versioning = {**versioning, "key": "x-api-version", "stripVersioningData": True, "versions": children}
    return [oas("base", "/base/", upstream + "/one", tmp_path, hook, versioning=oas_versioning), child]


@pytest.mark.parametrize("fmt", ["classic", "oas"])
async def test_base_and_child_versions(tmp_path: Path, fmt: str) -> None:
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = base_child(fmt, upstream.url, tmp_path, hook.url)
        async with run_gateway(tmp_path, apis=apis) as gw:

            async def call(version: str | None) -> httpx.Response:
                headers = {"x-api-version": version} if version is not None else {}
                return await gw.client.get("/base/items?q=1", headers=headers)

            own, named_own, child, unknown, missing = [await call(v) for v in (None, "v1", "v2", "v9", "v3")]
            await gw.idle()
    assert own.json()["path"] == "/one/items" and named_own.json()["path"] == "/one/items"
    assert child.status_code == 200
    # The base strips its listen path and the version header, then the child proxies to its target.
    assert child.json()["path"] == "/two/items" and child.json()["query"] == "q=1"
    assert "x-api-version" not in dict(child.json()["headers"])
    for response in (unknown, missing):
        assert (response.status_code, response.json()) == (404, {"error": vc.DOES_NOT_EXIST})
    assert recorder.deliveries == []  # Tyk fires no VersionFailure on the base/child path
