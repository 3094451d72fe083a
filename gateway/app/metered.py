"""Metrics wired to the running gateway (tyk.conf `metrics`): the route class, `/metrics` on the gateway's
listener behind the admin secret, on a port of its own without it, and the readings taken at scrape time.

Built only when `metrics.enabled` is true; with it off nothing here exists and no request does any work
for metrics. It must not count per request itself: observe/route.py does, once per request.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable, Iterable

from gateway.apidef.model import APISpec
from gateway.app.parts import Parts
from gateway.chain.circuit_breaker import CircuitBreaker
from gateway.config.model import Config
from gateway.context import Services
from gateway.log import get_logger
from gateway.observe.metrics import CONTENT_TYPE, Metrics
from gateway.observe.readings import PUBLISH_EVERY, Readings
from gateway.observe.route import MeasuredRoute
from gateway.routing import APIRoute
from gateway.tasks import cancel_and_wait
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import Receive, Scope, Send, Upstream

log = get_logger("metrics")

PATH = "/metrics"
_HEADER = b"x-tyk-authorization"
_DENIED = b'{"status":"error","message":"Attempted administrative access with invalid or missing key!"}'
_OUTCOMES = {"delivered": "delivered", "given up": "given_up", "gone": "gone"}


class Metered:
    def __init__(
        self, config: Config, parts: Callable[[], Parts], routes: Callable[[], Iterable[APIRoute]]
    ) -> None:
        self.metrics = Metrics()
        self._config = config.metrics
        self._secret = config.secret.encode()
        self._parts = parts
        self._routes = routes
        self._server: asyncio.Server | None = None
        self._publisher: asyncio.Task[None] | None = None

    def route(self, spec: APISpec, services: Services, upstream: Upstream, down: DownHosts) -> APIRoute:
        return MeasuredRoute(spec, services, upstream, down, self.metrics)

    def own(self) -> Readings:
        """This process's readings: what its bus, breakers, host checker and delivery log hold."""
        parts = self._parts()
        breakers: dict[str, int] = {}
        for route in self._routes():
            for step in route.chain:
                if isinstance(step, CircuitBreaker):
                    tripped = sum(1 for *_, breaker in step.entries if breaker.tripped)
                    breakers[route.spec.api_id] = breakers.get(route.spec.api_id, 0) + tripped
        log_ = parts.handlers.delivery_log
        return Readings(
            queue_depth=parts.bus.depth(),
            hosts_down=len(parts.down_hosts.hosts),
            breakers_open=breakers,
            events=dict(parts.bus.stats.by_type),
            deliveries={name: log_.totals[key] for key, name in _OUTCOMES.items()},
            attempts=dict(log_.attempts),
        )

    async def readings(self) -> Readings:
        """Ours, and the shared store's: the outbox's backlog and oldest age, one PING's round trip."""
        parts, now = self._parts(), self.own()
        last = self.metrics.readings
        now.outbox_backlog, now.outbox_oldest_age = last.outbox_backlog, last.outbox_oldest_age
        try:
            began = time.perf_counter()
            if await parts.store.ping():
                now.store_latency = time.perf_counter() - began
            now.outbox_backlog = await parts.handlers.outbox.backlog()
            oldest = await parts.handlers.outbox.oldest()
            now.outbox_oldest_age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
        except Exception:  # the store is down: the last values stand, the rest still serve
            pass
        return now

    async def text(self) -> bytes:
        return self.metrics.render(await self.readings())

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """/metrics on the gateway's listener: only with the admin secret (constant-time), as /tyk/."""
        given = next((value for name, value in scope["headers"] if name == _HEADER), None)
        if given is None or not self._secret or not hmac.compare_digest(given, self._secret):
            await _answer(send, 403, b"application/json", _DENIED)
            return
        await _answer(send, 200, CONTENT_TYPE, await self.text())

    async def start(self) -> None:
        """The port of its own (`metrics.listen_port`), without the secret; none when it is 0. With
        several workers, this one's readings copied to the shared files every second."""
        if self.metrics.published is not None:
            self._publisher = asyncio.get_running_loop().create_task(self._publish(), name="metrics-publish")
        if self._config.listen_port:
            self._server = await asyncio.start_server(
                self._client, self._config.listen_address, self._config.listen_port
            )
            log.info("metrics on http://%s:%d%s", self._config.listen_address, self._config.listen_port, PATH)

    async def _publish(self) -> None:
        assert self.metrics.published is not None
        while True:
            await asyncio.sleep(PUBLISH_EVERY)  # a period, not a wait for a result
            try:
                self.metrics.published.publish(self.own())
            except Exception:  # a reading failed this time: the next period tries again
                log.exception("metrics: publishing this worker's readings failed")

    async def close(self) -> None:
        await cancel_and_wait(self._publisher)
        self._publisher = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One request per connection: GET /metrics answers the text, anything else 404."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            method, target, *_ = head.split(b"\r\n", 1)[0].split(b" ")
            if method in (b"GET", b"HEAD") and target.split(b"?", 1)[0] == PATH.encode():
                status, media, body = b"200 OK", CONTENT_TYPE, await self.text()
            else:
                status, media, body = b"404 Not Found", b"text/plain", b"Not Found\n"
            writer.write(
                b"HTTP/1.1 "
                + status
                + b"\r\ncontent-type: "
                + media
                + b"\r\ncontent-length: "
                + str(len(body)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + (b"" if method == b"HEAD" else body)
            )
            await writer.drain()
        except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


async def _answer(send: Send, status: int, media: bytes, body: bytes) -> None:
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
