"""The listener's HTTP limits against a real gateway and upstream, with raw sockets for the hostile
traffic: heads too large or too many (431, never forwarded), a target too long (414), a head that never
ends (cut off at the limit), one that arrives too slowly (408), and idle kept-alive connections closed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.config.model import from_dict
from gateway.errors import ConfigError
from gateway.testing import ControlledUpstream, RunningGateway, run_gateway, serve
from tests.pki import PKI

# How far past a timeout a close may come: the sweep runs every quarter timeout, plus a loaded machine.
SLACK = 2.0


def api(upstream: str) -> dict[str, Any]:
    return {
        "api_id": "open",
        "name": "open",
        "use_keyless": True,
        "proxy": {"listen_path": "/open/", "target_url": upstream + "/public", "strip_listen_path": True},
    }


@asynccontextmanager
async def gateway(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[RunningGateway, ControlledUpstream]]:
    upstream = ControlledUpstream()
    async with await serve(upstream) as served:
        config = {"http_server_options": options}
        async with run_gateway(tmp_path, apis=[api(served.url)], config=config) as gw:
            yield gw, upstream


async def connect(gw: RunningGateway) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(gw.url)
    return await asyncio.open_connection(url.hostname, url.port)


async def exchange(gw: RunningGateway, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data` on a fresh connection and read until the gateway closes it."""
    reader, writer = await connect(gw)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def request(target: str = "/open/x", headers: Sequence[tuple[str, str]] = ()) -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: gateway",
        "Connection: close",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


async def test_a_head_within_the_limits_is_forwarded(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (gw, upstream):
        answer = await exchange(
            gw, request(headers=[("X-Big", "a" * 60_000), *[(f"X-{i}", "v") for i in range(90)]])
        )
    assert status(answer) == 200
    assert upstream.total == 1


async def test_a_100_kb_header_is_refused_with_431_and_not_forwarded(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (gw, upstream):
        answer = await exchange(gw, request(headers=[("X-Big", "a" * 100_000)]))
        after = await gw.client.get("/open/after")  # the gateway serves on
    assert status(answer) == 431
    assert b"connection: close" in answer and b'"error": "Request Header Fields Too Large"' in answer
    assert after.status_code == 200
    assert upstream.total == 1  # only the request after


async def test_10000_headers_are_refused_with_431(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (gw, upstream):
        many = await exchange(gw, request(headers=[(f"X-H{i}", "v") for i in range(10_000)]))
    assert status(many) == 431
    assert upstream.total == 0


async def test_the_header_count_has_its_own_limit(tmp_path: Path) -> None:
    async with gateway(tmp_path, max_header_count=20, max_header_bytes=1_000_000) as (gw, upstream):
        # Host and Connection make two: 18 more is the limit exactly.
        at_limit = await exchange(gw, request(headers=[(f"X-H{i}", "v") for i in range(18)]))
        over = await exchange(gw, request(headers=[(f"X-H{i}", "v") for i in range(19)]))
    assert (status(at_limit), status(over)) == (200, 431)
    assert upstream.total == 1


async def test_a_request_target_too_long_is_refused_with_414(tmp_path: Path) -> None:
    async with gateway(tmp_path, max_url_bytes=1000) as (gw, upstream):
        long_path = await exchange(gw, request("/open/" + "a" * 2000))
        long_query = await exchange(gw, request("/open/x?q=" + "a" * 2000))
        endless = await exchange(gw, b"GET /open/" + b"a" * 200_000)  # never ends: cut at the head limit
    assert status(long_path) == status(long_query) == status(endless) == 414
    assert b'"error": "URI Too Long"' in long_path
    assert upstream.total == 0


async def test_an_endless_header_is_cut_off_at_the_limit(tmp_path: Path) -> None:
    # 20 MB announced, never terminated: the gateway answers once it has the limit's worth and closes,
    # whatever the client still sends (it is read and dropped, never buffered).
    async with gateway(tmp_path, max_header_bytes=32_768) as (gw, upstream):
        reader, writer = await connect(gw)
        writer.write(b"GET /open/x HTTP/1.1\r\nHost: gateway\r\nX-Endless: ")
        sent = 0
        answer = asyncio.create_task(reader.read())
        try:
            while sent < 20_000_000 and not answer.done():
                writer.write(b"a" * 65_536)
                sent += 65_536
                await writer.drain()
        except ConnectionError:
            pass  # the gateway closed while we were still sending: as good as dropped
        got = await asyncio.wait_for(answer, 10)
        writer.close()
    assert status(got) == 431
    assert got.endswith(b"}")  # and then the end of the stream: the connection is closed
    assert upstream.total == 0


async def test_many_endless_headers_at_once_are_all_cut_off(tmp_path: Path) -> None:
    async with gateway(tmp_path) as (gw, upstream):
        data = b"GET /open/x HTTP/1.1\r\nHost: gateway\r\nX-Endless: " + b"a" * 1_000_000
        answers = await asyncio.gather(*(exchange(gw, data) for _ in range(20)))
    assert [status(a) for a in answers] == [431] * 20
    assert upstream.total == 0


async def test_an_endless_head_pipelined_behind_an_answer_in_flight_ends_the_connection(
    tmp_path: Path,
) -> None:
    # The answer being written is finished, then the connection closes; the endless head is never parsed.
    async with gateway(tmp_path, max_header_bytes=32_768) as (gw, upstream):
        upstream.slow(0.3)
        reader, writer = await connect(gw)
        writer.write(b"GET /open/first HTTP/1.1\r\nHost: gateway\r\n\r\nGET /open/x HTTP/1.1\r\nX-Endless: ")
        try:
            for _ in range(64):
                writer.write(b"a" * 65_536)
                await writer.drain()
        except ConnectionError:
            pass
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    first, _, second = answer.partition(b"}")
    assert status(first) == 200 and b'"path": "/public/first"' in first
    assert status(second) == 431 and second.endswith(b"}")
    assert upstream.total == 1


async def test_a_head_that_arrives_too_slowly_is_answered_408_and_closed(tmp_path: Path) -> None:
    async with gateway(tmp_path, read_header_timeout=0.5) as (gw, upstream):
        reader, writer = await connect(gw)
        began = time.monotonic()
        writer.write(b"GET /open/x HTTP/1.1\r\nHost: gateway\r\nX-Slow: a")  # and nothing more
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 0.5 + SLACK)
        took = time.monotonic() - began
        writer.close()
    assert status(answer) == 408 and b'"error": "Request Timeout"' in answer
    assert 0.4 <= took <= 0.5 + SLACK
    assert upstream.total == 0


async def test_many_slow_connections_are_all_closed(tmp_path: Path) -> None:
    # Slowloris: connections that open and send part of a head, or nothing at all, are not held.
    async with gateway(tmp_path, read_header_timeout=0.5) as (gw, _):
        conns = [await connect(gw) for _ in range(50)]
        for i, (_, writer) in enumerate(conns):
            if i % 2:
                writer.write(b"GET /open/x HTTP/1.1\r\nHost: ")
        answers = await asyncio.wait_for(asyncio.gather(*(r.read() for r, _ in conns)), 0.5 + SLACK)
        for _, writer in conns:
            writer.close()
        healthy = await gw.client.get("/open/x")
    assert {status(a) for i, a in enumerate(answers) if i % 2} == {408}
    assert {a for i, a in enumerate(answers) if not i % 2} == {b""}  # nothing sent: closed, no answer
    assert healthy.status_code == 200


async def test_a_malformed_request_is_still_answered_400_and_not_forwarded(tmp_path: Path) -> None:
    # The protocol's own parsing of bytes is uvicorn's: what llhttp refuses stays refused.
    both = (
        b"POST /open/x HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n"
    )
    async with gateway(tmp_path) as (gw, upstream):
        answers = [
            await exchange(gw, data) for data in (both, b"GET /open/x HTTP/1.1\r\nBad Header: v\r\n\r\n")
        ]
    assert [status(a) for a in answers] == [400, 400]
    assert upstream.total == 0


async def test_an_idle_kept_alive_connection_is_closed(tmp_path: Path) -> None:
    async with gateway(tmp_path, idle_timeout=0.5, read_header_timeout=30) as (gw, upstream):
        reader, writer = await connect(gw)
        keep = b"GET /open/x HTTP/1.1\r\nHost: gateway\r\n\r\n"
        for _ in range(2):  # kept alive between requests that follow each other
            writer.write(keep)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))[15:])
            await reader.readexactly(length)
            assert status(head) == 200
        began = time.monotonic()
        rest = await asyncio.wait_for(reader.read(), 0.5 + SLACK)  # then idle: closed, without a word
        took = time.monotonic() - began
        writer.close()
    assert rest == b""
    assert 0.4 <= took <= 0.5 + SLACK
    assert upstream.total == 2


async def test_the_limits_hold_over_https(tmp_path: Path) -> None:
    pki = PKI()
    upstream = ControlledUpstream()
    async with await serve(upstream) as served:
        config = {"http_server_options": {**pki.server_config(tmp_path), "max_header_bytes": 8192}}
        async with run_gateway(
            tmp_path, apis=[api(served.url)], config=config, verify=pki.client_context()
        ) as gw:
            big = await gw.client.get("/open/x", headers={"x-big": "a" * 20_000})
            async with httpx.AsyncClient(verify=pki.client_context()) as fresh:
                fine = await fresh.get(gw.url + "/open/x")
    assert big.status_code == 431
    assert fine.status_code == 200
    assert upstream.total == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_header_bytes": -1}, r'"http_server_options.max_header_bytes": expected at least 0, got -1'),
        ({"read_header_timeout": -1}, r'"http_server_options.read_header_timeout": expected seconds >= 0'),
    ],
)
def test_negative_limits_are_refused(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict({"http_server_options": options}, base_dir=tmp_path, environ={})


def test_tyk_gw_variables_set_the_limits(tmp_path: Path) -> None:
    env = {
        "TYK_GW_HTTPSERVEROPTIONS_MAXHEADERBYTES": "8192",
        "TYK_GW_HTTPSERVEROPTIONS_READHEADERTIMEOUT": "2.5",
    }
    options = from_dict({}, base_dir=tmp_path, environ=env).http_server_options
    assert (options.max_header_bytes, options.read_header_timeout) == (8192, 2.5)


def test_zero_means_the_default(tmp_path: Path) -> None:
    options = from_dict(
        {"http_server_options": {"max_header_bytes": 0, "idle_timeout": 0}}, base_dir=tmp_path, environ={}
    ).http_server_options
    assert (options.max_header_bytes, options.idle_timeout) == (65_536, 120.0)
