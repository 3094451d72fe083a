"""OpenTelemetry traces end to end (tyk.conf `opentelemetry`): a real gateway exporting OTLP/HTTP to a
receiver in this process, an echo upstream and a webhook receiver. The request span, its middleware
children and the upstream call arrive with the right parents; the upstream and the webhook receiver
see traceparents naming them; the webhook's span links to the request that fired the event. A
collector that is down changes no answer; traces off load no OpenTelemetry at all.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from gateway.config import model, telemetry
from gateway.delivery.model import Delivery
from gateway.delivery.record import RecordCodec
from gateway.errors import ConfigError
from gateway.routing import APIRoute
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, eventually, run_gateway, serve
from gateway.testing.servers import unused_port
from tests.e2e.conftest import hooks_per_event

ROOT = Path(__file__).resolve().parents[2]
INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING_SPAN = "00f067aa0ba902b7"


class Collector:
    """An OTLP/HTTP receiver: POST /v1/traces, ExportTraceServiceRequest in protobuf."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.services: set[str] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if (b"content-encoding", b"gzip") in scope["headers"]:
            body = gzip.decompress(body)
        status = 404
        if scope["method"] == "POST" and scope["path"] == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource in request.resource_spans:
                for attr in resource.resource.attributes:
                    if attr.key == "service.name":
                        self.services.add(attr.value.string_value)
                for scoped in resource.scope_spans:
                    self.spans.extend(scoped.spans)
            status = 200
        answer = ExportTraceServiceResponse().SerializeToString()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/x-protobuf")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def named(self, name: str) -> list[Span]:
        return [s for s in self.spans if s.name == name]


def attrs(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        out[kv.key] = value.string_value if value.HasField("string_value") else value.int_value
    return out


def api(upstream: str, hook: str) -> dict[str, Any]:
    return {
        "api_id": "tr",
        "org_id": "org1",
        "name": "traced API",
        "auth_configs": {"authToken": {"auth_header_name": "Authorization"}},
        "proxy": {"listen_path": "/tr/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks_per_event(hook, ["RatelimitExceeded"])},
    }


def otel(endpoint: str, **more: Any) -> dict[str, Any]:
    return {
        "opentelemetry": {
            "enabled": True,
            "exporter": "http",
            "endpoint": endpoint,
            "batch_timeout": 20,
            "connection_timeout": 1,
            **more,
        }
    }


async def new_key(gw: RunningGateway) -> str:
    rights = {"tr": {"api_id": "tr", "api_name": "tr", "versions": ["Default"]}}
    body = {"org_id": "org1", "rate": 2, "per": 60, "quota_max": -1, "access_rights": rights}
    created = await gw.admin("POST", "/tyk/keys", json=body)
    assert created.status_code == 200, created.text
    key: str = created.json()["key"]
    return key


def sent_traceparent(echoed: dict[str, Any]) -> str:
    found = [value for name, value in echoed["headers"] if name == "traceparent"]
    assert len(found) == 1, echoed["headers"]
    return str(found[0])


async def test_request_middleware_upstream_and_webhook_spans(tmp_path: Path) -> None:
    collector, recorder = Collector(), WebhookRecorder()
    async with (
        await serve(collector) as sink,
        await serve(echo_app) as upstream,
        await serve(recorder) as hook,
    ):
        config = otel(sink.url)
        async with run_gateway(tmp_path, apis=[api(upstream.url, hook.url + "/hook")], config=config) as gw:
            assert all(type(r).__name__ == "TracedRoute" for r in gw.gateway._table.routes)
            key = await new_key(gw)
            incoming = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"
            first = await gw.client.get(
                "/tr/a", headers={"Authorization": key, "traceparent": incoming, "tracestate": "k=v"}
            )
            second = await gw.client.post("/tr/b", headers={"Authorization": key}, content=b"body")
            third = await gw.client.get("/tr/c", headers={"Authorization": key})
            assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
            deliveries = await recorder.wait_for(1)
            await gw.idle()
            await eventually(lambda: len(collector.named("traced API")) == 3, "the three request spans")
            await eventually(
                lambda: len(collector.named("webhook RatelimitExceeded")) == 1, "the webhook span"
            )

    assert collector.services == {"tyk-gateway"}
    servers = {attrs(s)["url.path"]: s for s in collector.named("traced API")}
    by_id = {s.span_id: s for s in collector.spans}

    # The client's traceparent is the parent; the upstream sees ours (the upstream call's span), not it.
    one = servers["/tr/a"]
    assert one.trace_id.hex() == INCOMING_TRACE and one.parent_span_id.hex() == INCOMING_SPAN
    assert one.kind == Span.SPAN_KIND_SERVER
    assert attrs(one)["tyk.request.id"] == first.headers["x-request-id"]
    assert attrs(one)["tyk.api.id"] == "tr" and attrs(one)["tyk.api.name"] == "traced API"
    assert attrs(one)["http.request.method"] == "GET" and attrs(one)["http.response.status_code"] == 200
    children = [s for s in collector.spans if s.parent_span_id == one.span_id]
    names = [s.name for s in children]
    assert "AuthKey" in names and "RateLimitAndQuotaCheck" in names and "GET" in names
    client = next(s for s in children if s.name == "GET")
    assert client.kind == Span.SPAN_KIND_CLIENT and attrs(client)["http.response.status_code"] == 200
    for echoed, request_span in ((first.json(), one), (second.json(), servers["/tr/b"])):
        parent = sent_traceparent(echoed)
        _, trace_id, span_id, _ = parent.split("-")
        assert trace_id == request_span.trace_id.hex()
        upstream_call = by_id[bytes.fromhex(span_id)]
        assert upstream_call.parent_span_id == request_span.span_id
    assert ["tracestate", "k=v"] in first.json()["headers"]
    assert INCOMING_SPAN not in sent_traceparent(first.json())

    # The POST went by the aiohttp client, the GETs by the fast path: both carry the traceparent.
    two = servers["/tr/b"]
    assert two.parent_span_id == b"" and attrs(two)["http.request.method"] == "POST"

    # The refused request: an error span, the refusing step's span too, and the webhook linked to it.
    three = servers["/tr/c"]
    assert attrs(three)["http.response.status_code"] == 429
    assert three.status.code == three.status.STATUS_CODE_ERROR
    refusing = [
        s for s in collector.spans if s.parent_span_id == three.span_id and s.name == "RateLimitAndQuotaCheck"
    ]
    assert refusing and refusing[0].status.code == refusing[0].status.STATUS_CODE_ERROR
    assert not [s for s in collector.spans if s.parent_span_id == three.span_id and s.name == "GET"]
    (event,) = collector.named("event RatelimitExceeded")  # under the step that fired it
    assert event.parent_span_id == refusing[0].span_id and event.trace_id == three.trace_id
    assert attrs(event)["tyk.event.type"] == "RatelimitExceeded"
    webhook = collector.named("webhook RatelimitExceeded")[0]
    assert webhook.kind == Span.SPAN_KIND_CLIENT
    assert [(link.trace_id, link.span_id) for link in webhook.links] == [(event.trace_id, event.span_id)]
    assert (
        attrs(webhook)["http.response.status_code"] == 200
        and attrs(webhook)["tyk.event.type"] == "RatelimitExceeded"
    )
    version, trace_id, span_id, flags = deliveries[0].headers["traceparent"].split("-")
    assert (version, trace_id, span_id) == ("00", webhook.trace_id.hex(), webhook.span_id.hex())
    assert int(flags, 16) & 1  # sampled


async def test_a_collector_that_is_down_changes_no_answer(tmp_path: Path) -> None:
    async with await serve(echo_app) as upstream:
        config = otel(f"127.0.0.1:{unused_port()}", batch_queue_size=8, batch_size=4)
        async with run_gateway(tmp_path, apis=[api(upstream.url, upstream.url)], config=config) as gw:
            key = await new_key(gw)
            began = time.monotonic()
            statuses = [
                (await gw.client.get("/tr/x", headers={"Authorization": key})).status_code for _ in range(3)
            ]
            assert statuses == [200, 200, 429]
            for _ in range(30):  # more spans than the queue holds: some are dropped, and counted
                await gw.client.get("/tr/x", headers={"Authorization": key})
            assert time.monotonic() - began < 10
            tracing = gw.gateway._traced.tracing if gw.gateway._traced else None
            assert tracing is not None and tracing.dropped > 0
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 8  # the stop waits for the dead collector a bounded time


async def test_incoming_traceparent_is_the_parent_even_on_a_refusal(tmp_path: Path) -> None:
    collector = Collector()
    async with await serve(collector) as sink, await serve(echo_app) as upstream:
        async with run_gateway(tmp_path, apis=[api(upstream.url, upstream.url)], config=otel(sink.url)) as gw:
            incoming = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"
            refused = await gw.client.get("/tr/x", headers={"traceparent": incoming})
            assert refused.status_code == 401
            await eventually(lambda: bool(collector.named("traced API")), "the request span")
    span = collector.named("traced API")[0]
    assert span.trace_id.hex() == INCOMING_TRACE and span.parent_span_id.hex() == INCOMING_SPAN
    assert attrs(span)["http.response.status_code"] == 401


def test_traces_off_load_no_opentelemetry(tmp_path: Path) -> None:
    """A gateway with traces off, serving a request, in a process of its own: plain routes, and none of
    the tracing modules loaded."""
    script = f"""
import asyncio, sys
from pathlib import Path
from gateway.testing import echo_app, run_gateway, serve

async def main():
    async with await serve(echo_app) as up:
        api = {{"api_id": "a", "name": "a", "use_keyless": True,
               "proxy": {{"listen_path": "/a/", "target_url": up.url, "strip_listen_path": True}}}}
        async with run_gateway(Path({str(tmp_path)!r}), apis=[api]) as gw:
            assert (await gw.client.get("/a/x")).status_code == 200
            print(sorted({{type(r).__name__ for r in gw.gateway._table.routes}}))
    # redis-py imports OpenTelemetry's metrics API on its own when it is installed (redis.observability):
    # what tracing would load is the trace SDK, the exporter and the gateway's own tracing modules.
    ours = ("gateway.observe.trace", "gateway.observe.export", "gateway.observe.webhooks",
            "opentelemetry.sdk.trace", "opentelemetry.exporter")
    print(sorted(m for m in sys.modules if m.startswith(ours)))

asyncio.run(main())
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["['APIRoute']", "[]"], done.stdout


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"exporter": "zipkin"}, "opentelemetry.exporter"),
        ({"sampling": {"type": "Sometimes"}}, "opentelemetry.sampling.type"),
        ({"sampling": {"rate": 1.5}}, "opentelemetry.sampling.rate"),
        ({"context_propagation": "b3"}, "opentelemetry.context_propagation"),
        ({"endpoint": "ftp://collector"}, "opentelemetry.endpoint"),
        ({"span_processor_type": "eager"}, "opentelemetry.span_processor_type"),
        ({"batch_queue_size": -1}, "opentelemetry.batch_queue_size"),
        ({"headers": {"x-key": 1}}, "opentelemetry.headers.x-key"),
        ({"enabled": "yes"}, "opentelemetry.enabled"),
    ],
)
def test_a_bad_setting_is_refused_naming_the_key(section: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        model.from_dict({"opentelemetry": section})
    assert f'key "{key}"' in str(caught.value) and "\n" not in str(caught.value)


def test_grpc_without_its_package_and_a_missing_extra_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r'key "opentelemetry.exporter": "grpc"'):
        model.from_dict({"opentelemetry": {"enabled": True}})  # Tyk's default exporter is grpc
    monkeypatch.setattr(telemetry, "_installed", lambda module: False)
    with pytest.raises(ConfigError) as caught:
        model.from_dict({"opentelemetry": {"enabled": True, "exporter": "http"}})
    assert 'key "opentelemetry.enabled"' in str(caught.value)
    assert "pip install 'tyk-mini-gateway[otel]'" in str(caught.value)


def test_defaults_are_tyks() -> None:
    cfg = model.from_dict({"opentelemetry": {"sampling": {"type": "TraceIDRatioBased"}}}).opentelemetry
    assert (cfg.exporter, cfg.endpoint, cfg.connection_timeout, cfg.context_propagation) == (
        "grpc",
        "localhost:4317",
        1.0,
        "tracecontext",
    )
    assert cfg.sampling.rate == 0.5 and cfg.batch_queue_size == 2048 and cfg.resource_name == "tyk-gateway"
    assert telemetry.endpoint_url("collector:4318") == "http://collector:4318/v1/traces"
    assert telemetry.endpoint_url("https://c.example/otlp/v1/traces") == "https://c.example/otlp/v1/traces"


def test_the_outbox_keeps_a_deliverys_trace() -> None:
    codec = RecordCodec("s3cret")
    traceparent = f"00-{INCOMING_TRACE}-{INCOMING_SPAN}-01"
    delivery = Delivery("a", "h", "RatelimitExceeded", "POST", "http://x/", b"{}", trace=traceparent)
    assert codec.loads(codec.dumps(delivery)).trace == traceparent
    older = json.loads(codec.dumps(delivery))
    del older["trace"]  # written before traces existed
    assert codec.load(older).trace == ""


def test_an_untraced_route_runs_the_plain_chain() -> None:
    from gateway import chain

    assert APIRoute.run is chain.run


async def test_traces_and_metrics_together(tmp_path: Path) -> None:
    from gateway.observe.route import MeasuredRoute

    collector = Collector()
    async with await serve(collector) as sink, await serve(echo_app) as upstream:
        config = {**otel(sink.url), "metrics": {"enabled": True}}
        async with run_gateway(tmp_path, apis=[api(upstream.url, upstream.url)], config=config) as gw:
            assert all(isinstance(r, MeasuredRoute) for r in gw.gateway._table.routes)
            key = await new_key(gw)
            assert (await gw.client.get("/tr/x", headers={"Authorization": key})).status_code == 200
            scraped = await gw.client.get("/metrics", headers=gw.admin_headers)
            assert 'http_server_request_duration_seconds_count{api_id="tr"' in scraped.text
            await eventually(lambda: bool(collector.named("traced API")), "the request span")
    assert {s.name for s in collector.spans} >= {"traced API", "AuthKey", "GET"}


async def test_a_child_version_runs_under_its_base_apis_span(tmp_path: Path) -> None:
    from tests.e2e.test_versions import base_child

    collector = Collector()
    async with await serve(collector) as sink, await serve(echo_app) as upstream:
        apis = base_child("classic", upstream.url, tmp_path, upstream.url)
        async with run_gateway(tmp_path, apis=apis, config=otel(sink.url)) as gw:
            answer = await gw.client.get("/base/items", headers={"x-api-version": "v2"})
            assert answer.status_code == 200 and answer.json()["path"] == "/two/items"
            await eventually(
                lambda: any(s.name == "GET" for s in collector.spans), "the upstream call's span"
            )
            await eventually(lambda: bool(collector.named("base")), "the request span")
    servers = [s for s in collector.spans if s.kind == Span.SPAN_KIND_SERVER]
    assert len(servers) == 1  # one request, one server span: the base's
    assert attrs(servers[0])["http.response.status_code"] == 200
    client = next(s for s in collector.spans if s.name == "GET")
    assert client.parent_span_id == servers[0].span_id
    _, trace_id, span_id, _ = sent_traceparent(answer.json()).split("-")
    assert (trace_id, span_id) == (servers[0].trace_id.hex(), client.span_id.hex())


def test_a_failing_collector_pauses_the_export() -> None:
    """After a failed export, batches are dropped unencoded (counted) for a pause that doubles while
    exports keep failing, and returns to its first length after a success."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from gateway.observe.export import PAUSE_FIRST, Paused

    class Inner(SpanExporter):
        def __init__(self) -> None:
            self.calls = 0
            self.result = SpanExportResult.FAILURE

        def export(self, spans: Any) -> SpanExportResult:
            self.calls += 1
            return self.result

    now = [0.0]
    inner = Inner()
    paused = Paused(inner, clock=lambda: now[0])
    batch: list[Any] = [object()] * 3
    assert paused.export(batch) is SpanExportResult.FAILURE and inner.calls == 1
    now[0] = PAUSE_FIRST - 0.1
    assert paused.export(batch) is SpanExportResult.FAILURE and inner.calls == 1  # paused: not even encoded
    now[0] = PAUSE_FIRST + 0.1
    paused.export(batch)  # fails again: the next pause is twice as long
    assert inner.calls == 2
    now[0] += 2 * PAUSE_FIRST - 0.2
    paused.export(batch)
    assert inner.calls == 2
    now[0] += 0.3
    inner.result = SpanExportResult.SUCCESS
    assert paused.export(batch) is SpanExportResult.SUCCESS and inner.calls == 3
    assert paused.dropped == 12
