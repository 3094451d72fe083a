"""The handler layer, assembled: the webhook client, the outbox matching the store, the Deliverer with its
Sender and delivery log, HandlerDeps, the quota monitor and its webhook, the global webhooks, and the
(api, event) -> handlers table built on every load, with the APIs it refuses (the outbound policy, a
template outside template_path).

app/gateway.py owns one per gateway and hands the table to the bus. Nothing here is on the request path; it
decides nothing about when events fire.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

from gateway.apidef import classic
from gateway.apidef.model import APISpec
from gateway.config.model import Config
from gateway.delivery import digest, outboxes
from gateway.delivery.deliverer import IN_HAND_PER_SEND, Deliverer
from gateway.delivery.events_kept import KeptEvents
from gateway.delivery.gate import Gate
from gateway.delivery.history import DeliveryLog
from gateway.delivery.model import RetryPolicy
from gateway.delivery.replay import Replayer
from gateway.delivery.retention import Retained
from gateway.delivery.sender import Sender
from gateway.errors import ConfigError, Refused, StoreError
from gateway.events import routes as event_routes
from gateway.events.catalog import Event
from gateway.handlers import global_webhooks, registry
from gateway.handlers.base import Handler, HandlerDeps, HandlerScope
from gateway.handlers.webhook import WebhookHandler
from gateway.identity.session import Session
from gateway.identity.sessions import SessionStore
from gateway.log import get_logger
from gateway.monitors.quota import TriggerMonitor
from gateway.outbound import Outbound
from gateway.store.base import Store

log = get_logger("app")

# Tyk's webhook client: 30 s total, and a webhook target never redirects us elsewhere.
WEBHOOK_TIMEOUT = 30.0
# Expiry events of the server's own certificates have no API: tyk.conf handlers receive them.

Routes = dict[tuple[str, str], list[Handler]]
DIGEST_FLUSH = 2.0  # seconds of a stop given to sending pending webhook digests early


class HandlerLayer:
    """Built at start (a bad `monitor` or `webhooks` setting raises ConfigError); lives across reloads,
    so a reload swaps handlers and never the outbox or a delivery in flight."""

    def __init__(
        self, config: Config, store: Store, sessions: SessionStore, outbound: Outbound | None = None
    ) -> None:
        self.config = config
        self.store = store
        self.sessions = sessions
        self.outbound = outbound or Outbound.from_config(config.outbound)
        self.http = self.outbound.client(follow_redirects=False, timeout=WEBHOOK_TIMEOUT)
        self.outbox = outboxes.open_outbox(config, store)
        self.retained = Retained(config, store)  # attempts, bodies, events: kept `events.retention`
        self.delivery_log = DeliveryLog(config.events.delivery_log_size, self.retained.attempts)
        sends = config.events.delivery_concurrency
        gate = Gate.from_config(config.events)  # per-target pause, cap and rate
        self.sender = Sender(self.http, self.delivery_log, concurrency=sends, gate=gate)
        skipped: Counter[str] = Counter()  # by reason: the handlers' (a cooldown) and the Deliverer's drops
        self.deliverer = Deliverer(
            self.outbox,
            self.sender,
            store,
            sends * IN_HAND_PER_SEND,
            hold=config.events.outbox_hold,
            dropped=skipped,
            bodies=self.retained.bodies,
        )
        self.replayer = Replayer(self.delivery_log, self.deliverer, store, config.events.retention)
        events_log = self.retained.events
        self.kept_events = None if events_log is None else KeptEvents(events_log)
        # What a stop left undone (unwritten deliveries or finish marks, a failed close): the exit status.
        self.shutdown_problems: list[str] = []
        self.deps = HandlerDeps(
            store=store,
            http=self.http,
            template_dir=config.template_path,
            middleware_dir=config.middleware_path,
            config_dir=config.config_dir,
            enable_key_logging=config.enable_key_logging,
            deliveries=self.deliverer,
            retry=RetryPolicy.from_config(config.events),
            redact_payload_keys=config.events.redact_keys_in_payloads,
            key_rpc=self._key_rpc,
            skipped=skipped,
            outbound=self.outbound,
        )
        self.monitor: TriggerMonitor | None = None
        self.monitor_hook: Handler | None = None
        self.configured_webhooks: dict[str, dict[str, Any]] = {}
        self.table: Routes = {}  # the last table built: GET /tyk/webhooks/signing-keys reads its keys

    def configure(self) -> None:
        """The quota monitor and tyk.conf's global webhooks: ConfigError for a bad setting (fatal at start;
        separate from __init__ so that the caller holds the layer, and can close it, when this raises)."""
        monitor = TriggerMonitor(self.config.monitor, self.store)
        if monitor.users or monitor.orgs:
            self.monitor, self.monitor_hook = monitor, self._monitor_hook()
        self.configured_webhooks = global_webhooks.from_config(self.config.webhooks)
        for webhook_id, webhook in self.configured_webhooks.items():
            self.check_webhook(webhook, f"tyk.conf webhooks {webhook_id!r}")

    def check_webhook(self, raw: Any, where: str) -> dict[str, Any]:
        """A global webhook definition, checked as its handler would be built (ConfigError otherwise)."""
        webhook = global_webhooks.check(raw, where)
        WebhookHandler.from_meta(dict(webhook), HandlerScope(where=where), self.deps)
        return webhook

    async def routes(self, specs: Sequence[APISpec]) -> tuple[Routes, dict[str, Refused]]:
        """The handler table for tyk.conf and these APIs, and the APIs refused, by id (see `vet`; their
        handlers are left out of the table). Any other bad handler is logged and left out; its API serves."""
        webhooks = await global_webhooks.all_webhooks(self.store, self.configured_webhooks)
        refused: dict[str, Refused] = {}
        routes: Routes = {}
        if self.monitor_hook is not None:  # Tyk's monitor webhook: gateway-level, like tyk.conf's
            routes[("", Event.TriggerExceeded)] = [self.monitor_hook]
        try:
            gateway_level = classic.event_handlers(self.config.event_handlers, "tyk.conf")
        except ConfigError as exc:
            log.error("%s", exc)
            gateway_level = ()
        self._add(routes, "", "", gateway_level, "tyk.conf", webhooks)
        for spec in specs:
            owner = f"api {spec.api_id!r} ({spec.source})"
            try:
                self.vet(spec)
                self._add(routes, spec.api_id, spec.org_id, spec.event_handlers, owner, webhooks)
            except Refused as exc:
                refused[spec.api_id] = exc
        self.table = routes
        return routes, refused

    def vet(self, spec: APISpec) -> None:
        """Refused when the API has the gateway call, on its own, an address the outbound policy refuses
        as written (uptime checks, JWKS, the upstream OAuth token URL; its webhooks: `_add`)."""
        for path, url in spec.calls:
            self.outbound.check_url(url, spec.source, path)

    async def check_api(self, spec: APISpec) -> None:
        """What a load would refuse the API for, before the REST API writes it: `vet`, and its webhook
        handlers built (only those: building a Python handler would import its file)."""
        self.vet(spec)
        webhooks = await global_webhooks.all_webhooks(self.store, self.configured_webhooks)
        hooks = [h for h in spec.event_handlers if registry.classic_name(h.kind) == WebhookHandler.kind]
        _, errors = registry.build(hooks, HandlerScope(spec.api_id, spec.org_id), self.deps, webhooks)
        refusal = next((e for e in errors if isinstance(e, Refused)), None)
        if refusal is not None:
            raise refusal

    def start(self) -> None:
        self.deliverer.start()
        self.retained.start()

    async def stop(self, deadline: float) -> None:
        """Waits between retries end now; requests on the wire get `deadline` seconds."""
        # Pending digests go to the outbox now, with what was counted so far: a restart loses none.
        await digest.flush(self.store, min(max(0.0, deadline), DIGEST_FLUSH))
        self.sender.halt()
        await self.deliverer.stop(deadline)
        await self.retained.stop()  # the last attempts written, while the store is still open
        held, unfinished = self.deliverer.unwritten.held, self.deliverer.unwritten.unfinished
        if held:
            self.shutdown_problems.append(f"{held} webhook deliveries never written to the outbox (lost)")
        if unfinished:
            self.shutdown_problems.append(f"{unfinished} webhook finish marks unwritten (sent again)")

    async def close(self) -> None:
        try:
            await self.outbox.close()
        except StoreError as exc:
            log.error("%s", exc)
            self.shutdown_problems.append(f"the webhook outbox did not close: {exc}")
        await self.retained.close()
        await self.http.aclose()

    async def _key_rpc(self, fn: str, args: list[str]) -> Any:
        """Tyk's TykGetKeyData (the session's JSON text) and TykSetKeyData (create or update; quota
        counters reset unless the third argument is "1"), for JavaScript handlers. Never raises."""
        try:
            if fn == "TykGetKeyData" and args:
                session = await self.sessions.get(args[0])
                found = (
                    session.to_json()
                    if session is not None
                    else {"status": "error", "message": "Key not found"}
                )
                return json.dumps(found)
            if fn == "TykSetKeyData" and len(args) >= 2:
                session = Session.from_json(json.loads(args[1]), "TykSetKeyData")
                await self.sessions.save(args[0], session)
                if (args[2] if len(args) > 2 else "") != "1":
                    await self.sessions.reset_quota(args[0], session)
                return None
        except (ValueError, ConfigError, StoreError) as exc:
            log.warning("%s failed for a JavaScript handler: %s", fn, exc)
            return json.dumps({"status": "error", "message": str(exc)})
        return json.dumps({"status": "error", "message": f"{fn}: unknown or missing arguments"})

    def _monitor_hook(self) -> Handler:
        meta = dict(self.config.monitor.configuration)
        if not meta.get("template_path"):  # Tyk's monitor default: the five fields of its template
            meta["template_path"] = "templates/monitor_template.json"  # found as any template is
        return WebhookHandler.from_meta(meta, HandlerScope(where="tyk.conf monitor.configuration"), self.deps)

    def _add(
        self,
        routes: Routes,
        api_id: str,
        org_id: str,
        specs: Sequence[Any],
        owner: str,
        webhooks: dict[str, dict[str, Any]],
    ) -> None:
        built, errors = registry.build(specs, HandlerScope(api_id, org_id), self.deps, webhooks)
        refusal = next((e for e in errors if isinstance(e, Refused)), None)
        if refusal is not None and api_id:  # a whole API is refused; tyk.conf's handler is only left out
            raise refusal
        for error in errors:
            log.error("%s: handler skipped: %s", owner, error)
        for event, found in built.items():
            if event not in Event.__members__:
                # A warning: more often a misspelt Tyk event than a custom one a hook will fire.
                log.warning(
                    "%s: %r is not one of Tyk's events; its handlers run only when a hook fires a custom "
                    "event of that exact name",
                    owner,
                    event,
                )
            elif not event_routes.reachable(api_id, event):
                where = "API definitions" if api_id == event_routes.GATEWAY else "tyk.conf"
                log.warning("%s: handlers for %s never fire here; register them in %s", owner, event, where)
            routes.setdefault((api_id, event), []).extend(found)
