"""run_gateway: a real gateway for a pytest suite, from Python dicts, on a loopback port.

Writes the API definitions to `<tmp>/apps`, builds the config (loopback, a test secret, the embedded
store in `<tmp>/data` unless you say otherwise) and serves the gateway under uvicorn in the test's
event loop, or in-process over httpx.ASGITransport with `http=False`. `eventually` is the bounded
poll tests wait with instead of sleeping. Test support only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.app import listener
from gateway.app.gateway import Gateway
from gateway.config import model as config_mod
from gateway.testing.servers import serve

TEST_SECRET = "test-secret"


async def eventually(
    condition: Callable[[], bool] | Callable[[], Awaitable[bool]], what: str = "", timeout: float = 10.0
) -> None:
    """Return once `condition()` (plain or async) is true; AssertionError naming `what` after `timeout` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        met = condition()
        if inspect.isawaitable(met):
            met = await met
        if met:
            return
        assert loop.time() < deadline, f"timed out waiting for {what or 'the condition'}"
        await asyncio.sleep(0.01)  # bounded poll


@dataclass(slots=True)
class RunningGateway:
    gateway: Gateway
    client: httpx.AsyncClient  # base_url is the gateway
    url: str  # "" when served in-process

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"x-tyk-authorization": self.gateway.config.secret}

    async def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A Gateway REST API call with the secret, e.g. `await gw.admin("POST", "/tyk/keys", json=...)`."""
        headers = {**self.admin_headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def idle(self, timeout: float = 30.0) -> None:
        """Wait until every event fired so far has been handled and every webhook it produced is
        finished (delivered, suppressed or given up); AssertionError naming what is left after `timeout` s."""
        deliverer = self.gateway.parts.handlers.deliverer
        try:
            async with asyncio.timeout(timeout):
                await self.gateway.parts.bus.idle()
        except TimeoutError:
            raise AssertionError(f"events still being handled after {timeout:g} s") from None
        try:
            async with asyncio.timeout(timeout):
                await deliverer.idle()
        except TimeoutError:
            backlog = await deliverer.outbox.backlog()
            raise AssertionError(
                f"webhooks not finished after {timeout:g} s: {deliverer.running} in hand, "
                f"{backlog} in the outbox (on Redis: of every gateway)"
            ) from None


def write_apis(app_path: Path, apis: Sequence[Mapping[str, Any]]) -> None:
    if apis:
        app_path.mkdir(parents=True, exist_ok=True)
    for i, api in enumerate(apis):
        name = api.get("api_id") or api.get("x-tyk-api-gateway", {}).get("info", {}).get("id") or f"api{i}"
        (app_path / f"{i:03d}-{name}.json").write_text(json.dumps(api, indent=2))


@contextlib.asynccontextmanager
async def run_gateway(
    tmp_path: Path,
    *,
    apis: Sequence[Mapping[str, Any]] = (),
    config: Mapping[str, Any] | None = None,
    http: bool = True,
    verify: ssl.SSLContext | bool = True,
) -> AsyncIterator[RunningGateway]:
    """Start a gateway for the `apis` (Classic or OAS dicts) with `config` over the test defaults.

    With `http_server_options.use_ssl` it serves HTTPS (`url` is https://); `verify` is the client's
    TLS setting (an SSLContext trusting the test CA, perhaps with a client certificate)."""
    raw: dict[str, Any] = {
        "listen_address": "127.0.0.1",
        "secret": TEST_SECRET,
        "app_path": "apps",
        "storage": {"type": "embedded", "path": "data"},
    }
    raw.update(config or {})
    # Every listen_port here is the default (uvicorn serves on a free port), so the default Redis outbox
    # consumer name would be shared by two gateways in one test: name it after the folder instead, which
    # a restart in the same folder keeps.
    raw["events"] = {"outbox_consumer": f"run_gateway:{tmp_path}", **raw.get("events", {})}
    write_apis(tmp_path / raw["app_path"], apis)
    cfg = config_mod.from_dict(raw, where="run_gateway config", base_dir=tmp_path, environ={})
    gateway = Gateway(cfg)
    if http:
        secure = gateway.server_tls
        served = await serve(
            gateway,
            lifespan="on",
            ssl=None if secure is None else secure.context,
            protocol=listener.protocol(cfg.http_server_options, tls=secure is not None),
        )
        client = httpx.AsyncClient(base_url=served.url, verify=verify)
        try:
            yield RunningGateway(gateway, client, served.url)
        finally:
            await client.aclose()
            await served.close()
        return
    await gateway.start()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://gateway")
    try:
        yield RunningGateway(gateway, client, "")
    finally:
        await client.aclose()
        await gateway.stop()
