"""The upstream OAuth middleware on a real context: a real token endpoint, both stores, and an injected
clock that drives token expiry; a store outage costs a token request, never the request."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.apidef.model import APISpec, UpstreamOAuthSpec
from gateway.chain import DEFAULT_CONFIG
from gateway.chain.upstream_auth import NO_LIFETIME_TTL, UpstreamOAuth
from gateway.config.model import StorageConfig, from_dict
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from gateway.events.bus import EventBus
from gateway.events.catalog import Event, UpstreamOAuthMeta
from gateway.identity.sessions import SessionStore
from gateway.store.base import Store
from gateway.store.limiter import Limiter
from gateway.store.registry import open_store
from gateway.testing import Served, serve, unused_port
from tests.chain.test_chain import Clock, request
from tests.token_server import TokenServer


@pytest.fixture
async def idp() -> AsyncIterator[tuple[TokenServer, Served]]:
    tokens = TokenServer(expires_in=60)
    async with serve(tokens) as served:
        yield tokens, served


async def services_for(store: Store, tmp_path: Path, http: httpx.AsyncClient | None) -> Services:
    cfg = from_dict({"secret": "s"}, base_dir=tmp_path, environ={})
    bus = EventBus(cfg.events)
    bus.wants = lambda api_id, event: True  # type: ignore[method-assign]
    sessions = SessionStore(store, hash_keys=False, hash_function="", min_token_length=3)
    limiter = Limiter(store.rate_limit_storage())
    return Services(cfg, store, sessions, limiter, bus, Clock(), oauth_http=http)


def oauth_api(token_url: str, **kw: Any) -> APISpec:
    oauth = UpstreamOAuthSpec(grant="clientCredentials", client_id="c", token_url=token_url, **kw)
    return APISpec("api1", "a", "", "/a/", "http://127.0.0.1:1", upstream_oauth=oauth)


CONTEXT_API = oauth_api("http://127.0.0.1:1/t")


async def call(
    mw: UpstreamOAuth, services: Services, headers: dict[str, str] | None = None
) -> RequestContext:
    # The middleware reads only its own settings: any API will do for the context.
    ctx = RequestContext(CONTEXT_API, request(headers), services)
    await mw.on_request(ctx)
    return ctx


@pytest.mark.parametrize("store", ["embedded", "redis"], indirect=True)
async def test_the_clock_decides_when_the_token_is_fetched_again(
    store: Store, tmp_path: Path, idp: tuple[TokenServer, Served]
) -> None:
    tokens, served = idp
    async with httpx.AsyncClient() as http:
        services = await services_for(store, tmp_path, http)
        clock = services.clock
        assert isinstance(clock, Clock)
        api = oauth_api(served.url + "/token", method="client_secret_basic")
        mw = UpstreamOAuth(api, DEFAULT_CONFIG)
        ctx = await call(mw, services, {"Authorization": "mine"})
        assert ctx.outgoing.add == (("Authorization", "Bearer tok-1"),)
        assert ctx.outgoing.drop == {b"authorization"}
        clock.now += 59
        assert (await call(mw, services)).outgoing.add == (("Authorization", "Bearer tok-1"),)
        # A new middleware (a reload) finds the token in the store, not at the endpoint.
        again = UpstreamOAuth(api, DEFAULT_CONFIG)
        assert (await call(again, services)).outgoing.add == (("Authorization", "Bearer tok-1"),)
        assert len(tokens.requests) == 1
        clock.now += 1
        assert (await call(mw, services)).outgoing.add == (("Authorization", "Bearer tok-2"),)
        assert len(tokens.requests) == 2


async def test_a_token_without_lifetime_is_kept_for_an_hour(
    tmp_path: Path, idp: tuple[TokenServer, Served]
) -> None:
    tokens, served = idp
    tokens.expires_in = None
    store = open_store(StorageConfig(type="embedded", path=str(tmp_path / "d")))
    async with httpx.AsyncClient() as http:
        services = await services_for(store, tmp_path, http)
        assert isinstance(services.clock, Clock)
        mw = UpstreamOAuth(oauth_api(served.url), DEFAULT_CONFIG)
        await call(mw, services)
        services.clock.now += NO_LIFETIME_TTL - 1
        await call(mw, services)
        assert len(tokens.requests) == 1
        services.clock.now += 1
        await call(mw, services)
        assert len(tokens.requests) == 2
    await store.close()


async def test_a_store_outage_costs_a_token_request_not_the_request(
    tmp_path: Path, idp: tuple[TokenServer, Served]
) -> None:
    tokens, served = idp
    down = open_store(StorageConfig(type="redis", host="127.0.0.1", port=unused_port()))
    async with httpx.AsyncClient() as http:
        services = await services_for(down, tmp_path, http)
        mw = UpstreamOAuth(oauth_api(served.url), DEFAULT_CONFIG)
        assert (await call(mw, services)).outgoing.add == (("Authorization", "Bearer tok-1"),)
        assert (await call(mw, services)).outgoing.add == (("Authorization", "Bearer tok-1"),)
    assert len(tokens.requests) == 1  # the in-process copy still serves
    await down.close()


async def test_failure_records_the_event_and_rejects(tmp_path: Path) -> None:
    store = open_store(StorageConfig(type="embedded", path=str(tmp_path / "d")))
    services = await services_for(store, tmp_path, None)  # no token client at all
    api = dataclasses.replace(oauth_api("http://127.0.0.1:1/t"), api_id="api9")
    mw = UpstreamOAuth(api, DEFAULT_CONFIG)
    ctx = RequestContext(api, request(), services)
    with pytest.raises(Reject) as caught:
        await mw.on_request(ctx)
    text = "upstream OAuth client is not running"
    assert (caught.value.status, caught.value.message) == (500, f"failed to get OAuth token: {text}")
    assert ctx.pending == [(Event.UpstreamOAuthError, UpstreamOAuthMeta(text, api_id="api9"))]
    assert ctx.outgoing.add == ()
    await store.close()
