"""Traces wired to the running gateway (tyk.conf `opentelemetry`): the SDK started once the gateway
starts (in each worker, after the fork), the route class that makes the spans, the webhook attempts'
spans on the Sender, and a bounded stop.

Built only when `opentelemetry.enabled` is true; nothing here imports OpenTelemetry until `start`, so a
gateway with traces off never loads it. It must not make spans itself: observe/traced.py and
observe/webhooks.py do.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from gateway.apidef.model import APISpec
from gateway.app.metered import Metered
from gateway.app.parts import Parts
from gateway.config.model import Config
from gateway.context import Services
from gateway.routing import APIRoute
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import Upstream

if TYPE_CHECKING:
    from gateway.observe.trace import Tracing

# How long a stop waits for the last spans to reach the collector: a collector that is down must not
# hold the gateway's stop for the exporter's own (30 s) timeout.
CLOSE_WAIT = 2.0


class Traced:
    def __init__(self, config: Config, metered: Metered | None) -> None:
        self._config = config.opentelemetry
        self._metered = metered
        self.tracing: Tracing | None = None
        self._route_class: type[APIRoute] | None = None

    def start(self, parts: Parts) -> None:
        """The provider and its export thread, the route class, the Sender's attempt spans."""
        from gateway.observe.route import MeasuredRoute
        from gateway.observe.trace import Tracing
        from gateway.observe.traced import TracedRoute
        from gateway.observe.webhooks import WebhookSpans

        tracing = self.tracing = Tracing(self._config)
        base = APIRoute if self._metered is None else MeasuredRoute
        # A class per gateway, holding its tracer: a route carries no tracing state of its own, so the
        # traced class can sit on MeasuredRoute as well as on APIRoute.
        self._route_class = type("TracedRoute", (TracedRoute, base), {"__slots__": (), "tracing": tracing})
        parts.handlers.sender.spans = WebhookSpans(tracing)

    def route(self, spec: APISpec, services: Services, upstream: Upstream, down: DownHosts) -> APIRoute:
        if self._route_class is None:
            raise RuntimeError("traces are not started")
        extra: tuple[Any, ...] = () if self._metered is None else (self._metered.metrics,)
        return self._route_class(spec, services, upstream, down, *extra)

    async def close(self) -> None:
        tracing, self.tracing = self.tracing, None
        if tracing is not None:
            await asyncio.to_thread(tracing.close, CLOSE_WAIT)
