"""A real admin app over a small real AdminGateway: the suite's `store` (embedded and Redis), files in a
temp app_path, and the token events it is asked to fire kept in a list. Talked to in-process with
httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.admin import build_admin
from gateway.apidef.loader import load_dir
from gateway.apidef.model import APISpec
from gateway.certs.store import CertStore
from gateway.config.model import Config, from_dict
from gateway.events.catalog import Event, EventMeta
from gateway.identity.sessions import SessionStore
from gateway.store.base import Store

SECRET = "admin-test-secret"


@dataclass
class LocalGateway:
    config: Config
    store: Store
    sessions: SessionStore
    cert_store: CertStore
    events: list[tuple[Event, EventMeta]] = field(default_factory=list)
    reloads: int = 0
    loaded: Sequence[APISpec] = ()
    jwks_invalidated: list[str | None] = field(default_factory=list)

    def fire_system(self, event: Event, meta: EventMeta) -> None:
        self.events.append((event, meta))

    async def reload(self) -> None:
        self.reloads += 1
        self.loaded = load_dir(self.config.app_path).specs

    def invalidate_jwks(self, api_id: str | None) -> None:
        self.jwks_invalidated.append(api_id)

    async def reload_group(self) -> None:
        await self.reload()  # one gateway: the group is itself

    def specs(self) -> Sequence[APISpec]:
        return self.loaded

    async def check_api(self, spec: APISpec) -> None:
        """Nothing refused here: the real gateway's check (templates, the outbound policy) is run end to
        end by tests/e2e/test_bad_input.py."""


@dataclass
class Admin:
    gw: LocalGateway
    client: httpx.AsyncClient
    app_path: Path

    async def snapshot(self) -> dict[str, str]:
        """Everything in the store, to prove a refused call changed nothing."""
        found = {name: await self.gw.store.get(name) for name in await self.gw.store.keys("")}
        return {name: value for name, value in found.items() if value is not None}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call with the right secret."""
        headers = {"x-tyk-authorization": SECRET, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


MakeAdmin = Callable[..., Awaitable[Admin]]


@pytest.fixture
async def make_admin(tmp_path: Path, store: Store) -> AsyncIterator[MakeAdmin]:
    """`await make_admin(**tyk_conf)`: an admin app on that config; `store=` overrides the store."""
    clients: list[httpx.AsyncClient] = []
    default = store

    async def make(store: Store = default, **config: Any) -> Admin:
        (tmp_path / "apps").mkdir(exist_ok=True)
        cfg = from_dict({"secret": SECRET, "app_path": "apps", **config}, base_dir=tmp_path, environ={})
        sessions = SessionStore(
            store,
            hash_keys=cfg.hash_keys,
            hash_function=cfg.hash_key_function,
            min_token_length=cfg.min_token_length,
        )
        gw = LocalGateway(cfg, store, sessions, CertStore(store, cfg.secret, cfg.config_dir))
        await gw.reload()
        gw.reloads = 0
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=build_admin(gw)), base_url="http://gw")
        clients.append(client)
        return Admin(gw, client, tmp_path / "apps")

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
async def admin(make_admin: MakeAdmin) -> Admin:
    return await make_admin()
