"""Python request hooks and custom events end to end, on both stores: hooks change what the upstream sees
and reject requests; a hook fires a custom event that reaches the API's webhook (its template reading
the event's own fields) and tyk.conf's; Classic and OAS; failing, slow and broken hooks are contained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.testing import WebhookRecorder, echo_app, run_gateway, serve

HOOKS = """
import asyncio, time

def tag(request, api):
    request.set_header("X-Hooked", f"{api.api_id}:{request.method}")
    request.remove_header("X-Secret")

async def guard(request, api):
    await asyncio.sleep(0)
    if request.headers.get("x-deny"):
        api.reject(403, "Denied by hook")

def order(request, api):
    if "order=" in request.query:
        api.fire("OrderSeen", {"Message": "an order", "Customer": request.query.split("=")[1]})

def fake(request, api):
    api.fire("QuotaExceeded", {"Message": "not mine to fire"})

def broken(request, api):
    raise RuntimeError("hook bug")

def slow(request, api):
    time.sleep(1)
"""

TEMPLATE = '{"event": "{{.Type}}", "message": "{{.Meta.Message}}", "customer": "{{.Meta.Customer}}"}'


def hook_entry(name: str) -> dict[str, Any]:
    return {"name": name, "path": "hooks.py", "timeout": 0.3}


def on_order(webhook: dict[str, Any]) -> dict[str, Any]:
    return {"events": {"OrderSeen": [{"handler_name": "eh_web_hook_handler", "handler_meta": webhook}]}}


def classic(api_id: str, upstream: str, hook: str, hooks: dict[str, list[str]]) -> dict[str, Any]:
    webhook = {"method": "POST", "target_path": f"{hook}/{api_id}", "template_path": "order.json"}
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": f"/{api_id}/", "target_url": upstream, "strip_listen_path": True},
        "custom_middleware": {
            "driver": "python",
            **{
                stage: [{"name": n, "path": "hooks.py", "timeout": 0.3} for n in names]
                for stage, names in hooks.items()
            },
        },
        "event_handlers": {
            "events": {"OrderSeen": [{"handler_name": "eh_web_hook_handler", "handler_meta": webhook}]}
        },
    }


def oas(api_id: str, upstream: str, hook: str) -> dict[str, Any]:
    plugins = [{"enabled": True, "functionName": n, "path": "hooks.py"} for n in ("tag", "order")]
    return {
        "openapi": "3.0.3",
        "info": {"title": api_id, "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": api_id, "name": api_id, "state": {"active": True}},
            "server": {
                "listenPath": {"value": f"/{api_id}/", "strip": True},
                "eventHandlers": [
                    {
                        "enabled": True,
                        "trigger": "OrderSeen",
                        "type": "webhook",
                        "url": f"{hook}/{api_id}",
                        "method": "POST",
                        "bodyTemplate": "order.json",
                    }
                ],
            },
            "upstream": {"url": upstream},
            "middleware": {"global": {"pluginConfig": {"driver": "python"}, "prePlugins": plugins}},
        },
    }


def setup(tmp_path: Path) -> None:
    (tmp_path / "middleware").mkdir()
    (tmp_path / "middleware" / "hooks.py").write_text(HOOKS)
    (tmp_path / "templates").mkdir()  # template_path: "order.json" is found there by name
    (tmp_path / "templates" / "order.json").write_text(TEMPLATE)


def upstream_headers(response: Any) -> dict[str, str]:
    return dict(response.json()["headers"])


async def test_hooks_change_reject_and_fire_custom_events(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    setup(tmp_path)
    recorder = WebhookRecorder()
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [
            classic("shop", upstream.url, hook.url, {"pre": ["tag", "order"], "post": ["guard"]}),
            oas("oas-shop", upstream.url, hook.url),
        ]
        gateway_hook = {"method": "POST", "target_path": f"{hook.url}/gateway", "template_path": "order.json"}
        config = {
            **store_config,
            "middleware_path": "middleware",
            "event_handlers": {
                "events": {
                    "OrderSeen": [{"handler_name": "eh_web_hook_handler", "handler_meta": gateway_hook}]
                }
            },
        }
        async with run_gateway(tmp_path, apis=apis, config=config) as gw:
            seen = await gw.client.get("/shop/x", headers={"X-Secret": "s3cret"})
            assert seen.status_code == 200
            headers = upstream_headers(seen)
            assert headers["x-hooked"] == "shop:GET" and "x-secret" not in headers

            denied = await gw.client.get("/shop/x", headers={"X-Deny": "1"})
            assert (denied.status_code, denied.json()) == (403, {"error": "Denied by hook"})

            assert (await gw.client.get("/shop/x?order=ada")).status_code == 200
            assert (await gw.client.get("/oas-shop/x?order=bob")).status_code == 200
            assert upstream_headers(await gw.client.get("/oas-shop/y"))["x-hooked"] == "oas-shop:GET"
            await recorder.wait_for(4)
            await gw.idle()
    got = sorted((d.path, json.dumps(d.json(), sort_keys=True)) for d in recorder.deliveries)
    ada = json.dumps({"customer": "ada", "event": "OrderSeen", "message": "an order"}, sort_keys=True)
    bob = json.dumps({"customer": "bob", "event": "OrderSeen", "message": "an order"}, sort_keys=True)
    assert got == sorted([("/shop", ada), ("/gateway", ada), ("/oas-shop", bob), ("/gateway", bob)])


async def test_failing_slow_and_broken_hooks_are_contained(tmp_path: Path) -> None:
    setup(tmp_path)
    (tmp_path / "middleware" / "syntax.py").write_text("def hook(request, api)\n    pass\n")
    async with await serve(echo_app) as upstream:
        broken_file = classic("gone", upstream.url, "http://127.0.0.1:9", {"pre": ["tag"]})
        broken_file["custom_middleware"]["pre"][0]["path"] = "syntax.py"
        apis = [
            classic("raises", upstream.url, "http://127.0.0.1:9", {"pre": ["broken"]}),
            classic("slow", upstream.url, "http://127.0.0.1:9", {"post": ["slow"]}),
            classic("fakes", upstream.url, "http://127.0.0.1:9", {"pre": ["fake"]}),
            classic("fine", upstream.url, "http://127.0.0.1:9", {"pre": ["tag"]}),
            broken_file,
        ]
        async with run_gateway(tmp_path, apis=apis, config={"middleware_path": "middleware"}) as gw:
            for api_id in ("raises", "slow", "fakes"):
                failed = await gw.client.get(f"/{api_id}/x")
                assert (failed.status_code, failed.json()) == (
                    500,
                    {"error": "There was a problem proxying the request"},
                )
            assert (await gw.client.get("/fine/x")).status_code == 200
            # The API whose hook file does not compile is not served at all (never without its hook).
            assert (await gw.client.get("/gone/x")).status_code == 404
            listed = (await gw.admin("GET", "/tyk/apis")).json()
    assert "gone" not in {api.get("api_id") for api in listed}
