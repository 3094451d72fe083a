"""Parts: everything a started gateway runs, built in one constructor from an open store.

The gateway opens its store, then builds its parts here: each one always exists, and whatever a part
opens (the outbox, HTTP clients) is registered on the gateway's exit stack as it opens, so a failure
half-way closes exactly that. Starting the parts' background work is the gateway's job, not this one's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable

import httpx

from gateway.app.cluster import GroupReload
from gateway.app.event_side import HandlerLayer
from gateway.certs.monitor import CertExpiryMonitor
from gateway.certs.store import CertStore
from gateway.config.model import Config
from gateway.context import Services
from gateway.events.bus import EventBus
from gateway.identity import cache as session_cache
from gateway.identity.sessions import SessionStore
from gateway.monitors.uptime import HostChecker
from gateway.store.base import Store
from gateway.store.limiter import Limiter
from gateway.templating.template import ErrorPages
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import Upstream

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
        self.store = store
        self.upstream = upstream
        self.sessions = SessionStore(
            store,
            hash_keys=config.hash_keys,
            hash_function=config.hash_key_function,
            min_token_length=config.min_token_length or 3,
            cache=session_cache.for_store(config, store),
        )
        self.bus = EventBus(config.events)
        oauth_http = httpx.AsyncClient(timeout=OAUTH_TIMEOUT)
        opened.push_async_callback(oauth_http.aclose)
        self.handlers = HandlerLayer(config, store, self.sessions)
        opened.push_async_callback(self.handlers.close)
        self.handlers.configure()  # a bad `monitor` or `webhooks` setting raises here
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
        self.uptime = HostChecker(config.uptime_tests, store, self.bus.fire, self.down_hosts)
        self.group = GroupReload(store, reload)
