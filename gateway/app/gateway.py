"""The composition root: builds Services, loads APIs and handlers, serves, reloads, stops.

`Gateway` is the ASGI app uvicorn runs. Its hot path is raw ASGI: route, chain, proxy, and one
`except` that renders Tyk's error body; `/tyk/*` and `/hello` go to the Starlette admin app. It is
the only module that knows every room; nothing imports it but the command line and the test kit.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from gateway.admin import build_admin
from gateway.apidef.loader import LoadResult, load_dir
from gateway.apidef.model import APISpec
from gateway.app.cluster import GroupReload
from gateway.app.event_side import HandlerLayer
from gateway.certs import registry as cert_registry
from gateway.certs import tls
from gateway.certs.monitor import CertExpiryMonitor, CertUse
from gateway.certs.store import CertStore
from gateway.config.model import Config
from gateway.context import Services
from gateway.delivery.history import DeliveryLog
from gateway.errors import ConfigError, Reject, UpstreamError, wants_xml
from gateway.events.bus import EventBus
from gateway.events.catalog import EventMessage, EventMeta
from gateway.identity import cache as session_cache
from gateway.identity.sessions import SessionStore
from gateway.log import get_logger
from gateway.monitors.uptime import HostChecker
from gateway.routing import APIRoute, RouteTable
from gateway.store.base import Store
from gateway.store.limiter import Limiter
from gateway.store.registry import open_store
from gateway.templating.template import ErrorPages
from gateway.upstream.fast import FastUpstream
from gateway.upstream.proxy import Receive, Scope, Send, Upstream

log = get_logger("app")

# Tyk's upstream OAuth token client: 15 s.
OAUTH_TIMEOUT = 15.0


class Gateway:
    def __init__(
        self, config: Config, *, upstream: Upstream | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._clock = clock
        self._upstream = upstream
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
        # What start opened, closed last-opened-first on stop or on a failed start, whatever got opened.
        self._opened = contextlib.AsyncExitStack()

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
        self.store: Store = open_store(cfg.storage)
        self._opened.push_async_callback(self.store.close)
        self.sessions = SessionStore(
            self.store,
            hash_keys=cfg.hash_keys,
            hash_function=cfg.hash_key_function,
            min_token_length=cfg.min_token_length or 3,
            cache=session_cache.for_store(cfg, self.store),
        )
        self.bus = EventBus(cfg.events)
        if self._upstream is None:
            upstream = FastUpstream()  # aiohttp behind it for what the fast path does not carry
            await upstream.start()
            self._upstream = upstream
        if isinstance(self._upstream, FastUpstream):
            self._opened.push_async_callback(self._upstream.close)
        self._oauth_http = httpx.AsyncClient(timeout=OAUTH_TIMEOUT)
        self._opened.push_async_callback(self._oauth_http.aclose)
        self.handlers = HandlerLayer(cfg, self.store, self.sessions)
        self._opened.push_async_callback(self.handlers.close)
        self.handlers.configure()
        if self.handlers.monitor is not None:
            self.sessions.on_quota_reset = self.handlers.monitor.forget
        self.services = Services(
            config=cfg,
            store=self.store,
            sessions=self.sessions,
            limiter=Limiter(self.store.rate_limit_storage()),
            bus=self.bus,
            upstream=self._upstream,
            clock=self._clock,
            oauth_http=self._oauth_http,
            trigger_monitor=self.handlers.monitor,
        )
        self._errors = ErrorPages(cfg.template_path)
        self.cert_store = CertStore(self.store, cfg.secret, cfg.config_dir)
        self._admin = build_admin(self)
        monitor_cfg = cfg.security.certificate_expiry_monitor
        self.cert_monitor = CertExpiryMonitor(
            self.store, self.bus.fire, monitor_cfg, scan=monitor_cfg.scan_configured, clock=self._clock
        )
        self.uptime = HostChecker(cfg.uptime_tests, self.store, self.bus.fire, self.services.down_hosts)
        if self.sessions.cache is not None:
            self.sessions.cache.start()
            self._opened.push_async_callback(self.sessions.cache.stop)
        self.group = GroupReload(self.store, self.reload)
        self.group.start()
        self._opened.push_async_callback(self.group.stop)
        await self.reload()
        await self.bus.start()
        self.handlers.start()
        self.uptime.start()
        await self.cert_monitor.start()
        self.started = True
        if not cfg.secret:
            log.warning('no "secret" in the config: the Gateway REST API (/tyk/...) refuses every call')
        log.info("gateway started: %d APIs, store %s", len(self._specs), cfg.storage.type)

    async def stop(self) -> None:
        """Deliver queued events up to the deadline (the rest stay in the outbox), then release clients
        and the store. Under the reload lock: a reload in progress finishes first."""
        async with self._reload_lock:
            await self._stop()

    async def _stop(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.uptime.stop()  # before the bus: its last events are still delivered
        await self.cert_monitor.stop()
        self._table.close()
        began = time.monotonic()
        await self.bus.stop()  # every accepted event is now rendered and in the outbox
        left = self.config.events.shutdown_deadline - (time.monotonic() - began)
        await self.handlers.stop(max(0.0, left))
        await self._release()

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
                result = await asyncio.to_thread(load_dir, self.config.app_path)
            except ConfigError as exc:  # no app_path folder: serve no APIs until one is posted
                log.warning("%s; no APIs loaded", exc)
                result = LoadResult()
            routes = await self.handlers.routes(result.specs)
            specs = await self._resolve_certs(result.specs)
            built: list[APIRoute] = []
            for spec in [s for s in specs if s.active]:
                try:
                    built.append(APIRoute(spec, self.services))
                except ConfigError as exc:  # a request hook that cannot be loaded: never serve without it
                    log.error("skipped %s: %s", spec.source or spec.api_id, exc)
                    specs = tuple(s for s in specs if s is not spec)
            active = [route.spec for route in built]
            table = RouteTable(built)
            self.bus.set_routes(routes)
            old, self._table, self._specs = self._table, table, specs
            old.close()  # the replaced routes' breakers start afresh; their timers must not fire
            self.uptime.set_specs(active)
            skipped = len(result.skipped) + len(result.specs) - len(specs)
            log.info("loaded %d APIs (%d skipped)", len(specs), skipped)

    async def _resolve_certs(self, specs: Sequence[APISpec]) -> tuple[APISpec, ...]:
        """Resolve every API's certificate references; an API whose reference fails is skipped. The new
        registry is swapped in before the routes are built (they read their upstream context from it)."""
        kept: list[APISpec] = []
        apis: dict[str, cert_registry.APICerts] = {}
        for spec in specs:
            try:
                found = await cert_registry.resolve(spec, self.cert_store, self.config)
            except ConfigError as exc:
                log.warning("skipped %s: %s", spec.source or spec.api_id, exc.reason)
                continue
            if found is not None:
                apis[spec.api_id] = found
            kept.append(spec)
        registry = cert_registry.CertRegistry(apis, self.cert_monitor)
        if self.server_tls is not None:
            self.server_tls.request_client_certs(use.cert for api in apis.values() for use in api.client_uses)
        self.services.certs = registry
        # Server certificates belong to no API: their events go to tyk.conf's handlers (api_id "").
        server = self.server_tls.certificates if self.server_tls is not None else ()
        server_uses = [CertUse(c, "", "", "server") for c in server]
        global_uses = await cert_registry.global_upstream(self.config, self.cert_store)
        self.cert_monitor.set_uses([*registry.uses(), *server_uses, *global_uses])
        return tuple(kept)

    # -- what the admin API needs (gateway.admin.deps.AdminGateway) ----------------------------

    @property
    def configured_webhooks(self) -> Mapping[str, dict[str, Any]]:
        return self.handlers.configured_webhooks

    @property
    def delivery_log(self) -> DeliveryLog:
        return self.handlers.delivery_log

    async def reload_group(self) -> None:
        await self.group.request()

    def check_webhook(self, raw: Any, where: str) -> dict[str, Any]:
        return self.handlers.check_webhook(raw, where)

    def event_stats(self) -> dict[str, Any]:
        bus, totals = self.bus.stats, self.handlers.delivery_log.totals
        return {
            "fired": bus.fired,
            "dropped": bus.dropped,
            "handled": bus.delivered,
            "failed": bus.failed,
            "webhooks": {
                "deduplicated": self.handlers.deps.skipped["deduplicated"],
                "delivered": totals["delivered"],
                "given_up": totals["given up"],
                "gone": totals["gone"],
            },
        }

    def specs(self) -> Sequence[APISpec]:
        return self._specs

    def fire_system(self, event: str, meta: EventMeta) -> None:
        self.bus.fire(EventMessage(event, meta))

    # -- ASGI ------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("/tyk/") or path == self._hello:
                await self._admin(scope, receive, send)
                return
            route = self._table.match(_host(scope) if self._table.needs_host else "", path)
            if route is None:
                await self._render(scope, send, Reject(404, "Not Found"))
                return
            try:
                reject = await route(scope, receive, send)
            except UpstreamError as exc:
                reject = Reject(exc.status, exc.message)
            except Exception:
                log.exception("unexpected error on %s %s", scope["method"], path)
                reject = Reject(500, "There was a problem proxying the request")
            if reject is not None:
                await self._render(scope, send, reject)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _render(self, scope: Scope, send: Send, reject: Reject) -> None:
        content_type = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
        body, media = self._errors.render(reject.message, wants_xml(content_type))
        headers = [
            (b"content-type", media),
            (b"content-length", str(len(body)).encode()),
            *self._extra_error_headers,
            *reject.headers,
        ]
        await send({"type": "http.response.start", "status": reject.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _host(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"host":
            host = str(value.decode("latin-1")).lower()
            # Drop the port, never part of an IPv6 literal ("[::1]:8080" -> "[::1]", "[::1]" stays).
            head, colon, port = host.rpartition(":")
            return head if colon and port.isdigit() and not head.endswith(":") else host
    return ""
