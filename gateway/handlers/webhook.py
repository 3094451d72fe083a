"""The webhook handler (Classic `eh_web_hook_handler`, OAS `webhook`): render, reserve, submit.

Tyk's cooldown (the same rendered request within `event_timeout` seconds is sent once) is reserved
before sending and released when delivery finally fails, by delivery/cooldown.py. The rendered
request goes to the Deliverer (deps.deliveries), which holds it in memory while the outbox cannot be
written: it is never sent from here then. Only without a Deliverer (unit tests) is it sent once, here.
The body is the template's output, or with `envelope: "cloudevents"` a CloudEvents envelope
(delivery/envelope.py); the cooldown compares the template's output either way. With `cooldown_mode:
"digest"` suppressed events are counted and summed up in one delivery when the cooldown ends
(delivery/digest.py). All validation is in `from_meta`, at load; `handle` never raises for
configuration reasons.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from gateway.delivery import cooldown, digest, envelope, options
from gateway.delivery.model import Delivery, RetryPolicy, new_id
from gateway.delivery.options import retry_policy, signing_secrets
from gateway.delivery.signing import secret_key, signature_headers
from gateway.errors import ConfigError, HandlerError, StoreError
from gateway.events.catalog import EventMessage
from gateway.handlers import webhook_body
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.log import Throttle, get_logger
from gateway.packaged import find_template
from gateway.templating.template import Template, load_template

log = get_logger("handlers.webhook")

METHODS = frozenset({"GET", "PUT", "POST", "DELETE", "PATCH"})
_COOLDOWN_LOG = Throttle(10.0)


class WebhookHandler:
    kind = "eh_web_hook_handler"

    def __init__(
        self,
        *,
        name: str,
        method: str,
        url: str,
        template: Template,
        headers: dict[str, str],
        cooldown: int,
        scope: HandlerScope,
        deps: HandlerDeps,
        retry: RetryPolicy | None = None,
        secrets: tuple[str, ...] = (),
        redact_keys: bool = False,
        cloudevents: bool = False,
        templated: bool = True,
        digest: bool = False,
    ) -> None:
        self.name = name
        self.method = method
        self.url = url
        self.template = template
        # Whether events need their originating request serialised for this handler (Tyk's default
        # template never reads it: a flood of refusals then skips that work).
        self.reads_request = any(
            template.may_read(m, "OriginatingRequest") for m in ("Meta", "EventMetaData")
        )
        self.headers = headers
        self.cooldown = cooldown
        self.scope = scope
        self.deps = deps
        self.retry = retry or deps.retry
        self.secrets = secrets
        self.redact_keys = redact_keys
        self.cloudevents = cloudevents  # the body is a CloudEvents envelope
        self.templated = templated  # a template_path was given: with CloudEvents its output is `data`
        self.digest = digest  # cooldown_mode "digest"
        split = urlsplit(url)
        self._request_target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        self._host = split.netloc

    @classmethod
    def from_meta(cls, meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> WebhookHandler:
        where = scope.where
        method = meta.get("method", "")
        if not isinstance(method, str) or (method and method.upper() not in METHODS):
            raise ConfigError(where, f'"method": expected one of {sorted(METHODS)}, got {method!r}')
        # Tyk sends GET when no method is given.
        method = method.upper() or "GET"
        url = meta.get("target_path")
        if not isinstance(url, str) or not webhook_body.http_url(url):
            raise ConfigError(where, f'"target_path": expected an absolute http(s) URL, got {url!r}')
        deps.outbound.check_url(url, where, '"target_path"')  # Refused: a denied address or name
        header_map = meta.get("header_map") or {}
        if not isinstance(header_map, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in header_map.items()
        ):
            raise ConfigError(where, f'"header_map": expected an object of strings, got {header_map!r}')
        cooldown = meta.get("event_timeout", 0)
        if isinstance(cooldown, float) and cooldown.is_integer():
            cooldown = int(cooldown)
        if not isinstance(cooldown, int) or isinstance(cooldown, bool) or cooldown < 0:
            raise ConfigError(where, f'"event_timeout": expected whole seconds >= 0, got {cooldown!r}')
        template = load_template(
            find_template(meta.get("template_path"), where, deps.config_dir, deps.template_dir)
        )
        cloudevents = options.envelope(meta, where) == "cloudevents"
        headers = {"User-Agent": "Tyk-Hookshot"}
        if cloudevents:
            headers["Content-Type"] = envelope.CONTENT_TYPE
        elif template.is_json:
            headers["Content-Type"] = "application/json"
        headers.update(header_map)  # header_map wins, as in Tyk
        name = meta.get("name") or meta.get("id") or url
        redact = meta.get("redact_keys", meta.get("redactKeys", deps.redact_payload_keys))
        if not isinstance(redact, bool):
            raise ConfigError(where, f'"redact_keys": expected true or false, got {redact!r}')
        return cls(
            name=str(name),
            method=method,
            url=url,
            template=template,
            headers=headers,
            cooldown=cooldown,
            scope=scope,
            deps=deps,
            retry=retry_policy(meta, deps.retry, where),
            secrets=signing_secrets(meta, where),
            redact_keys=redact,
            cloudevents=cloudevents,
            templated=bool(meta.get("template_path")),
            digest=options.cooldown_mode(meta, where) == "digest",
        )

    def checksum(self, body: bytes) -> str:
        """MD5 of the Go wire form of method, URL and body (header_map does not take part, as in Tyk)."""
        wire = (
            f"{self.method} {self._request_target} HTTP/1.1\r\nHost: {self._host}\r\n"
            f"User-Agent: Go-http-client/1.1\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        return hashlib.md5(wire, usedforsecurity=False).hexdigest()

    async def handle(self, msg: EventMessage) -> None:
        rendered = self.template.render(webhook_body.template_data(msg, self.redact_keys))
        body = plain = rendered.encode()
        store = self.deps.store
        delivery_id = new_id()
        if self.cloudevents:
            data = rendered if self.templated else None
            body = webhook_body.cloudevent(msg, self.scope, data, self.redact_keys, delivery_id)
        reservation = ""
        if self.cooldown > 0:
            # The template's output, not the envelope (its id and time differ every time).
            reservation = cooldown.key(self.checksum(plain))
            try:
                reserved = await cooldown.reserve(store, reservation, delivery_id, self.cooldown)
            except StoreError as exc:
                # Without the store the cooldown cannot be kept; deliver rather than lose the event.
                # Logged once per outage (every 10 s), not once per event.
                if _COOLDOWN_LOG.allow(self.name):
                    log.warning("webhook %r: cooldown unavailable, sending anyway: %s", self.name, exc)
                reservation, reserved = "", True
            if not reserved:
                log.debug("webhook %r: %s suppressed by cooldown", self.name, msg.type)
                self.deps.skipped["deduplicated"] += 1
                if self.digest:
                    await digest.count(store, reservation, self.cooldown, msg.type, body, msg.meta.request_id)
                return
            if reservation and self.digest:
                digest.arm(store, delivery_id, self.cooldown, self._send_digest)
        headers = webhook_body.headers(self.headers, msg.meta.request_id)
        await self._submit(msg.type, body, headers, reservation, delivery_id, msg.trace)

    async def _submit(
        self,
        event: str,
        body: bytes,
        headers: tuple[tuple[str, str], ...],
        reservation: str,
        delivery_id: str,
        trace: str = "",
    ) -> None:
        if self.deps.deliveries is not None:
            delivery = Delivery(
                api_id=self.scope.api_id,
                handler=self.name,
                event=event,
                method=self.method,
                url=self.url,
                body=body,
                headers=headers,
                retry=self.retry,
                secrets=self.secrets,
                reservation=reservation,
                id=delivery_id,
                accepted=time.time(),
                trace=trace,
            )
            await self.deps.deliveries.submit(delivery)  # the Deliverer sends it once it is durable
            return
        await self._send_once(body, reservation, delivery_id, headers)

    async def _send_digest(self, found: digest.Suppressed) -> None:
        """When a digest cooldown ends: the last suppressed event's body, saying how many there were."""
        delivery_id = new_id()
        body, told = digest.message(found, self.cloudevents, delivery_id)
        headers = webhook_body.headers(self.headers, found.request_id) + told
        await self._submit(found.event, body, headers, "", delivery_id)

    async def _send_once(
        self, body: bytes, reservation: str, delivery_id: str, headers: tuple[tuple[str, str], ...]
    ) -> None:
        """Tyk's delivery: one request now, in the bus worker (no Deliverer: unit tests)."""
        delivered = False
        try:
            keys = tuple(secret_key(s) for s in self.secrets)
            signed = [*headers, *signature_headers(keys, delivery_id, int(time.time()), body)]
            response = await self.deps.http.request(self.method, self.url, content=body, headers=signed)
            if not 200 <= response.status_code < 300:
                raise HandlerError(f"{self.url} answered {response.status_code}")
            delivered = True
        except (httpx.HTTPError, HandlerError) as exc:
            cause = str(exc) or type(exc).__name__
            raise HandlerError(f"webhook {self.name!r} ({self.method} {self.url}): {cause}") from exc
        finally:
            # Released on every way out but success, a timeout or shutdown cancelling us included,
            # so that a later identical event is not suppressed by a delivery that never happened.
            if reservation and not delivered:
                await cooldown.release(self.deps.store, reservation, delivery_id)
