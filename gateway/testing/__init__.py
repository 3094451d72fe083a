"""Test kit for gateway users and our own suite: real servers on loopback ports, no mocks.

`serve(app)` runs any ASGI app under uvicorn in the current event loop; `echo_app` is an upstream
that reports what it received; `StallingApp` never answers until released;
`ControlledUpstream` fails, slows down and recovers on command; `WebhookRecorder` records
webhook deliveries; `run_gateway` serves a gateway built from Python dicts; `eventually` polls a
condition with a deadline. Nothing here is used
by the gateway at run time.
"""

from __future__ import annotations

from gateway.testing.harness import RunningGateway, eventually, run_gateway, write_apis
from gateway.testing.recorder import Delivery, WebhookRecorder
from gateway.testing.servers import PATTERN, Served, StallingApp, echo_app, serve, unused_port
from gateway.testing.upstream import ControlledUpstream

__all__ = [
    "PATTERN",
    "ControlledUpstream",
    "Delivery",
    "RunningGateway",
    "Served",
    "StallingApp",
    "WebhookRecorder",
    "echo_app",
    "eventually",
    "run_gateway",
    "serve",
    "unused_port",
    "write_apis",
]
