"""The composition root: opens the store, builds and starts the parts, loads APIs and handlers, serves,
reloads, stops.

`Gateway` is the ASGI app uvicorn runs; its request entry, the hot path, is app/front.py's, and `/tyk/*`
and `/hello` go to the Starlette admin app (`/dashboard/*` to the Dashboard's, when on). It is the only
module that knows every room; nothing imports it but the command line and the test kit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.admin import build_admin
from gateway.apidef.loader import LoadResult, load_dir
from gateway.apidef.model import APISpec
from gateway.app import webhook_tools
from gateway.app.front import Front
from gateway.app.metered import PATH as METRICS_PATH
from gateway.app.metered import Metered
from gateway.app.parts import Parts
from gateway.app.traced import Traced
from gateway.certs import tls
from gateway.certs.store import CertStore
from gateway.chain.jwt_auth import JWTAuth
from gateway.config.model import Config
from gateway.dashboard import build_dashboard
from gateway.delivery.history import DeliveryLog, Filter
from gateway.errors import ConfigError, StoreError
from gateway.events.catalog import EventMessage, EventMeta
from gateway.events.live import LiveFeed
from gateway.identity import policies as policy_files
from gateway.identity.sessions import SessionStore
from gateway.log import get_logger
from gateway.routing import APIRoute, RouteTable
from gateway.store.base import Store
from gateway.store.registry import open_store
from gateway.upstream.fast import FastUpstream
from gateway.upstream.proxy import Upstream

log = get_logger("app")


class Gateway(Front):
    def __init__(
        self, config: Config, *, upstream: Upstream | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._clock = clock
        # Ours unless given (tests pass their own): aiohttp behind it for what the fast path does not carry.
        self._upstream: Upstream = upstream if upstream is not None else FastUpstream()
        self._parts: Parts | None = None  # built by start, once the store is open
        self._table = RouteTable(())
        self._specs: tuple[APISpec, ...] = ()
        self._reload_lock = asyncio.Lock()
        self._hello = "/" + config.health_check_endpoint_name.strip("/")
        self._extra_error_headers: list[tuple[bytes, bytes]] = []
        if not config.hide_generator_header:
            self._extra_error_headers.append((b"x-generator", b"tyk.io"))
        if config.close_connections:
            self._extra_error_headers.append((b"connection", b"close"))
        # The server's TLS contexts (None without use_ssl): built now, as uvicorn needs them before startup.
        self.server_tls = tls.server_tls(config)
        self.started = False
        self.stopped_clean = True  # False when a stop left webhooks unwritten: the exit status says so
        # What start opened, closed last-opened-first on stop or on a failed start, whatever got opened.
        self._opened = contextlib.AsyncExitStack()
        self._admin = build_admin(self)
        # tyk.conf `metrics`: None when off, and then no request does any work for it.
        self._metered = (
            Metered(config, lambda: self.parts, lambda: self._table.routes)
            if config.metrics.enabled
            else None
        )
        self._metrics_path = METRICS_PATH if self._metered is not None else None
        # tyk.conf `opentelemetry`: None when off, and then nothing imports OpenTelemetry.
        self._traced = Traced(config, self._metered) if config.opentelemetry.enabled else None
        # tyk.conf `dashboard`: the pages under /dashboard/, None when off.
        self._dashboard = (
            build_dashboard(self, self.server_tls is not None) if config.dashboard.enabled else None
        )

    @property
    def parts(self) -> Parts:
        """What the started gateway runs (the store, sessions, bus, handlers, monitors...)."""
        if self._parts is None:
            raise RuntimeError("the gateway is not started")
        return self._parts

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            # A failed start (a bad monitor webhook, an unreachable store) leaves no file locked.
            await self._release()
            raise

    async def _start(self) -> None:
        cfg = self.config
        store = open_store(cfg.storage)
        self._opened.push_async_callback(store.close)
        if isinstance(self._upstream, FastUpstream):  # ours to start and close; a given one is the caller's
            await self._upstream.start()
            self._opened.push_async_callback(self._upstream.close)
        parts = self._parts = Parts(cfg, store, self._upstream, self._clock, self.reload, self._opened)
        if self._traced is not None:  # before the first load: its routes are the traced ones
            self._traced.start(parts)
            self._opened.push_async_callback(self._traced.close)
        if parts.sessions.cache is not None:
            parts.sessions.cache.start()
            self._opened.push_async_callback(parts.sessions.cache.stop)
        parts.group.start()
        self._opened.push_async_callback(parts.group.stop)
        await self.reload()
        await parts.bus.start()
        parts.handlers.start()
        parts.uptime.start()
        parts.key_expiry.start()
        await parts.cert_monitor.start()
        if self._metered is not None:
            await self._metered.start()
            self._opened.push_async_callback(self._metered.close)
        self.started = True
        if not cfg.secret:
            log.warning('no "secret" in the config: the Gateway REST API (/tyk/...) refuses every call')
        log.info("gateway started: %d APIs, store %s", len(self._specs), cfg.storage.type)

    def stopping(self) -> None:
        """The server was asked to stop: end the responses that never end on their own (the Dashboard's
        live streams), which the server would otherwise wait for, up to its graceful timeout."""
        if self._parts is not None:
            self._parts.live.close()

    async def stop(self) -> None:
        """Deliver queued events up to the deadline (the rest stay in the outbox), then release clients
        and the store. Under the reload lock: a reload in progress finishes first."""
        async with self._reload_lock:
            await self._stop()

    async def _stop(self) -> None:
        if not self.started:
            return
        self.started = False
        parts = self.parts
        await parts.uptime.stop()  # before the bus: its last events are still delivered
        await parts.cert_monitor.stop()
        await parts.key_expiry.stop()
        self._table.close()
        began = time.monotonic()
        await parts.bus.stop()  # every accepted event is now rendered and in the outbox
        parts.live.close()  # the Dashboard's followers end
        left = self.config.events.shutdown_deadline - (time.monotonic() - began)
        await parts.handlers.stop(max(0.0, left))
        unclosed: list[str] = []
        try:
            await self._release()  # the handlers' close adds to their shutdown_problems
        except StoreError as exc:  # the store's journal not written out (a full disk): said below
            unclosed.append(str(exc))
        problems = [*parts.handlers.shutdown_problems, *unclosed]
        if problems:
            self.stopped_clean = False
            log.error("stopped with work left undone: %s", "; ".join(problems))

    async def _release(self) -> None:
        """Close the outbox, the clients and the store: whichever of them were opened."""
        opened, self._opened = self._opened, contextlib.AsyncExitStack()
        await opened.aclose()

    async def reload(self) -> None:
        """Load app_path into a new routing table and handler set, then swap both in at once.

        In-flight requests keep the route they matched; queued events keep their handlers.
        """
        async with self._reload_lock:
            try:
                result = await asyncio.to_thread(
                    load_dir, self.config.app_path, self.config.policies.policy_path
                )
            except ConfigError as exc:  # no app_path folder: serve no APIs until one is posted
                log.warning("%s; no APIs loaded", exc)
                result = LoadResult()
            parts = self.parts
            policies, bad = await asyncio.to_thread(
                policy_files.load, self.config.policies, result.operator_apis, self.config.app_path
            )
            for error in bad:
                log.error("skipped policy %s", error)
            parts.sessions.set_policies(policies)
            routes, refused = await parts.handlers.routes(result.specs)
            for api_id, why in refused.items():  # names the file, the field and the value
                log.error("skipped API %r: %s", api_id, why)
            kept = [s for s in result.specs if s.api_id not in refused]
            specs = await parts.resolve_certs(kept, self.server_tls)
            built: list[APIRoute] = []
            make = APIRoute if self._metered is None else self._metered.route
            make = make if self._traced is None else self._traced.route
            for spec in [s for s in specs if s.active]:
                try:
                    built.append(make(spec, parts.services, parts.upstream, parts.down_hosts))
                except ConfigError as exc:  # a request hook that cannot be loaded: never serve without it
                    log.error("skipped %s: %s", spec.source or spec.api_id, exc)
                    specs = tuple(s for s in specs if s is not spec)
            active = [route.spec for route in built]
            table = RouteTable(built)
            parts.bus.set_routes(routes)
            old, self._table, self._specs = self._table, table, specs
            old.close()  # the replaced routes' breakers start afresh; their timers must not fire
            parts.uptime.set_specs(active)
            skipped = len(result.skipped) + len(result.specs) - len(specs)
            log.info("loaded %d APIs (%d skipped), %d policies", len(specs), skipped, len(policies))

    @property
    def metered(self) -> Metered:
        """The metrics (tyk.conf `metrics.enabled`)."""
        if self._metered is None:
            raise RuntimeError("metrics are off")
        return self._metered

    # -- what the admin API needs (gateway.admin.deps.AdminGateway) ----------------------------

    @property
    def store(self) -> Store:
        return self.parts.store

    @property
    def sessions(self) -> SessionStore:
        return self.parts.sessions

    @property
    def cert_store(self) -> CertStore:
        return self.parts.cert_store

    @property
    def configured_webhooks(self) -> Mapping[str, dict[str, Any]]:
        return self.parts.handlers.configured_webhooks

    @property
    def delivery_log(self) -> DeliveryLog:
        return self.parts.handlers.delivery_log

    @property
    def live(self) -> LiveFeed:
        return self.parts.live

    async def resend(self, delivery_id: str) -> bool:
        return await self.parts.handlers.deliverer.resend(delivery_id)

    async def resend_matching(self, want: Filter, request_id: str) -> dict[str, Any]:
        return (await self.parts.handlers.replayer.resend(want, request_id)).to_json()

    async def kept_events(self, want: Filter) -> tuple[list[dict[str, Any]], str | None]:
        kept = self.parts.handlers.kept_events
        return ([], None) if kept is None else await kept.query(want)

    async def replay_events(self, webhook_id: str, want: Filter, request_id: str) -> dict[str, Any]:
        return await webhook_tools.replay_events(self.parts.handlers, webhook_id, want, request_id)

    def webhook_endpoints(self) -> list[dict[str, Any]]:
        return self.parts.handlers.sender.gate.view()

    async def test_webhook(self, webhook_id: str) -> dict[str, Any]:
        return await webhook_tools.test_webhook(self.parts.handlers, webhook_id)

    async def signing_keys(self) -> list[dict[str, str]]:
        return await webhook_tools.signing_keys(self.parts.handlers)

    async def reload_group(self) -> None:
        await self.parts.group.request()

    def invalidate_jwks(self, api_id: str | None) -> None:
        for route in self._table.routes:
            if api_id is None or route.spec.api_id == api_id:
                for step in route.chain:
                    if isinstance(step, JWTAuth) and step.jwks is not None:
                        step.jwks.forget()

    def check_webhook(self, raw: Any, where: str) -> dict[str, Any]:
        return self.parts.handlers.check_webhook(raw, where)

    async def check_api(self, spec: APISpec) -> None:
        await self.parts.handlers.check_api(spec)

    def event_stats(self) -> dict[str, Any]:
        return self.parts.event_stats()

    def specs(self) -> Sequence[APISpec]:
        return self._specs

    def fire_system(self, event: str, meta: EventMeta) -> None:
        self.parts.bus.fire(EventMessage(event, meta))
