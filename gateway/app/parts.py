"""Parts: everything a started gateway runs, built in one constructor once the store is open, each
registering what it opens on the gateway's exit stack as it opens (a failure half-way closes exactly
that); plus what the parts do together at each load (certificates) and for the REST API (counts).
Starting their background work is the gateway's job, not this module's."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway.apidef.model import APISpec
from gateway.app import delivery_events
from gateway.app.cluster import GroupReload
from gateway.app.event_side import HandlerLayer
from gateway.certs import registry as cert_registry
from gateway.certs.monitor import CertExpiryMonitor, CertUse
from gateway.certs.store import CertStore
from gateway.certs.tls import ServerTLS
from gateway.config.model import Config
from gateway.context import Services
from gateway.delivery.unwritten import OUTBOX_UNAVAILABLE
from gateway.errors import ConfigError
from gateway.events.bus import EventBus
from gateway.events.live import LiveFeed
from gateway.identity import cache as session_cache
from gateway.identity.sessions import SessionStore
from gateway.log import get_logger
from gateway.monitors.expiring_keys import KeyExpiryScanner
from gateway.monitors.uptime import HostChecker
from gateway.outbound import Outbound
from gateway.store.base import Store
from gateway.store.limiter import Limiter
from gateway.templating.template import ErrorPages
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import Upstream

log = get_logger("app")

# Tyk's upstream OAuth token client: 15 s.
OAUTH_TIMEOUT = 15.0


class Parts:
    def __init__(
        self,
        config: Config,
        store: Store,
        upstream: Upstream,
        clock: Callable[[], float],
        reload: Callable[[], Awaitable[None]],
        opened: contextlib.AsyncExitStack,
    ) -> None:
        self.config = config
        self.store = store
        self.upstream = upstream
        self.sessions = SessionStore(
            store,
            hash_keys=config.hash_keys,
            hash_function=config.hash_key_function,
            min_token_length=config.min_token_length or 3,
            cache=session_cache.for_store(config, store),
        )
        # The Dashboard's live view, fed only while tyk.conf `dashboard.enabled`: otherwise an event no
        # handler wants is never even built (and the feed stays empty).
        self.live = LiveFeed()
        self.bus = EventBus(config.events, live=self.live if config.dashboard.enabled else None)
        # tyk.conf `outbound`: every connection the gateway opens on its own (webhooks, uptime checks,
        # JWKS and upstream OAuth through oauth_http), never the proxy's to its upstream.
        self.outbound = Outbound.from_config(config.outbound)
        oauth_http = self.outbound.client(timeout=OAUTH_TIMEOUT)
        opened.push_async_callback(oauth_http.aclose)
        self.handlers = HandlerLayer(config, store, self.sessions, self.outbound)
        opened.push_async_callback(self.handlers.close)
        self.handlers.configure()  # a bad `monitor` or `webhooks` setting raises here
        # WebhookDeliveryFailed and the endpoint events, which the Sender reports as it sends.
        self.handlers.sender.fire = delivery_events.firer(self.bus.fire)
        if self.handlers.kept_events is not None:  # events.retention: accepted events kept for replay
            self.bus.keep = self.handlers.kept_events
        if self.handlers.monitor is not None:
            self.sessions.on_quota_reset = self.handlers.monitor.forget
        self.services = Services(
            config=config,
            store=store,
            sessions=self.sessions,
            limiter=Limiter(store.rate_limit_storage()),
            bus=self.bus,
            clock=clock,
            oauth_http=oauth_http,
            trigger_monitor=self.handlers.monitor,
        )
        self.errors = ErrorPages(config.template_path)
        self.cert_store = CertStore(store, config.secret, config.config_dir)
        expiry = config.security.certificate_expiry_monitor
        self.cert_monitor = CertExpiryMonitor(
            store, self.bus.fire, expiry, scan=expiry.scan_configured, clock=clock
        )
        self.down_hosts = DownHosts()  # the uptime checker's verdicts, which the balancers read
        self.uptime = HostChecker(
            config.uptime_tests, store, self.bus.fire, self.down_hosts, outbound=self.outbound
        )
        # KeyExpiringSoon: off (no task) while `events.key_expiry_warning_days` is empty.
        self.key_expiry = KeyExpiryScanner(config.events, store, self.bus.fire, clock=clock)
        self.group = GroupReload(store, reload)

    async def resolve_certs(
        self, specs: Sequence[APISpec], server_tls: ServerTLS | None
    ) -> tuple[APISpec, ...]:
        """Resolve every API's certificate references; an API whose reference fails is skipped (logged).
        The new registry is swapped in before the routes are built (they read their upstream context
        from it), and the expiry monitor is given every certificate in use."""
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
        if server_tls is not None:
            server_tls.request_client_certs(use.cert for api in apis.values() for use in api.client_uses)
        self.services.certs = registry
        # Server certificates belong to no API: their events go to tyk.conf's handlers (api_id "").
        server = server_tls.certificates if server_tls is not None else ()
        server_uses = [CertUse(c, "", "", "server") for c in server]
        global_uses = await cert_registry.global_upstream(self.config, self.cert_store)
        self.cert_monitor.set_uses([*registry.uses(), *server_uses, *global_uses])
        return tuple(kept)

    def event_stats(self) -> dict[str, Any]:
        """Counts since start: events fired, dropped, handled, failed; webhooks by outcome."""
        bus, totals = self.bus.stats, self.handlers.delivery_log.totals
        return {
            "fired": bus.fired,
            "dropped": bus.dropped,
            "handled": bus.delivered,
            "failed": bus.failed,
            "webhooks": {
                "deduplicated": self.handlers.deps.skipped["deduplicated"],
                OUTBOX_UNAVAILABLE: self.handlers.deps.skipped[OUTBOX_UNAVAILABLE],
                "delivered": totals["delivered"],
                "given_up": totals["given up"],
                "gone": totals["gone"],
            },
        }
