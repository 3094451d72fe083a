"""One uptime check against real loopback servers (TYK-REFERENCE 7.12): HTTP healthy only on 200,
`Connection: close`, the decoded body; timeouts and refused connections as TCP errors with code 0;
TCP dials with send/expect steps. And the balancer's round-robin that skips down hosts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gateway.apidef.model import UptimeCheck
from gateway.monitors.probe import probe
from gateway.testing import StallingApp, WebhookRecorder, serve, unused_port
from gateway.upstream.balancer import Balancer, DownHosts


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=True) as http:
        yield http


def http_check(url: str, **extra: Any) -> UptimeCheck:
    return UptimeCheck(url=url, kind="http", host=url.split("/")[2], **extra)


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (201, False), (500, False)])
async def test_http_is_healthy_only_on_200(client: httpx.AsyncClient, status: int, healthy: bool) -> None:
    target = WebhookRecorder(status=status)
    async with await serve(target) as server:
        check = http_check(
            server.url + "/health", method="POST", headers=(("X-Probe", "yes"),), body="ping", timeout=5.0
        )
        outcome = await probe(check, client)
    assert (outcome.response_code, outcome.tcp_error, outcome.healthy) == (status, False, healthy)
    assert outcome.latency_ms > 0
    (seen,) = target.deliveries
    assert (seen.method, seen.path, seen.body) == ("POST", "/health", b"ping")
    assert seen.headers["connection"] == "close" and seen.headers["x-probe"] == "yes"


async def test_default_method_is_get(client: httpx.AsyncClient) -> None:
    target = WebhookRecorder()
    async with await serve(target) as server:
        assert (await probe(http_check(server.url + "/"), client)).healthy
    assert target.deliveries[0].method == "GET"


async def test_refused_and_timed_out_checks_are_tcp_errors_with_code_0(client: httpx.AsyncClient) -> None:
    refused = await probe(http_check(f"http://127.0.0.1:{unused_port()}/"), client)
    assert (refused.response_code, refused.tcp_error, refused.healthy) == (0, True, False)
    stalling = StallingApp()
    async with await serve(stalling) as server:
        slow = await probe(http_check(server.url + "/", timeout=0.3), client)
        stalling.release()
    assert (slow.response_code, slow.tcp_error) == (0, True)
    assert 250 < slow.latency_ms < 5000


async def test_tcp_dial_with_send_and_expect() -> None:
    async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.readexactly(4) == b"PING":
            writer.write(b"PONG")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(pong, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient() as http:
        base = UptimeCheck(url=f"tcp://127.0.0.1:{port}", kind="tcp", host=f"127.0.0.1:{port}", timeout=2.0)
        dialled = await probe(base, http)
        talked = await probe(replace(base, commands=(("send", "PING"), ("expect", "PONG"))), http)
        wrong = await probe(replace(base, commands=(("send", "PING"), ("expect", "NOPE"))), http)
    refused = await probe(
        UptimeCheck(url="tcp://x", kind="tcp", host=f"127.0.0.1:{unused_port()}", timeout=2.0), http
    )
    assert (dialled.response_code, dialled.tcp_error) == (200, False)
    assert (talked.response_code, talked.tcp_error) == (200, False)
    assert (wrong.response_code, wrong.tcp_error, wrong.healthy) == (200, True, False)  # Tyk's 200 + error
    assert (refused.response_code, refused.tcp_error) == (0, True)


def test_round_robin_skips_down_hosts_and_gives_up_when_all_are_down() -> None:
    down = DownHosts()
    targets = ("http://a.local:1", "http://a.local:1", "http://b.local:2/base", "http://user@c.local")
    balancer = Balancer(targets, True, down)
    assert [balancer.pick() for _ in range(5)] == [*targets, targets[0]]  # duplicates act as weights
    down.hosts = frozenset({"a.local:1"})
    assert [balancer.pick() for _ in range(4)] == [targets[2], targets[2], targets[3], targets[2]]
    down.hosts = frozenset({"a.local:1", "b.local:2", "c.local"})
    assert balancer.pick() is None
    blind = Balancer(targets, False, down)  # skipping off: down hosts still get their turn
    assert [blind.pick() for _ in range(2)] == [targets[0], targets[1]]
