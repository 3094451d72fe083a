"""Dot-segments: `remove_dot_segments` on raw paths, then a real gateway in front of a real upstream, driven
with raw sockets (httpx would clean the paths itself): cleaned paths are routed and forwarded cleaned, and
a path that climbs out of its listen path is refused with 400 before anything reaches an upstream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.testing import RunningGateway, echo_app, run_gateway, serve
from gateway.upstream import paths
from gateway.upstream.paths import RefusedPath, remove_dot_segments
from gateway.upstream.proxy import Receive, Scope, Send


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (b"/a/b/c/./../../g", b"/a/g"),  # RFC 3986 section 5.2.4's own example
        (b"/open/./x", b"/open/x"),
        (b"/open/a/../x", b"/open/x"),
        (b"/open/a/..", b"/open/"),  # a trailing dot-segment leaves a directory
        (b"/open/.", b"/open/"),
        (b"/open/a/%2e%2e/x", b"/open/x"),  # percent-encoded dots, either case, mixed
        (b"/open/a/%2E./x", b"/open/x"),
        (b"/open/a/.%2e/x", b"/open/x"),
        (b"/open/%2e/x", b"/open/x"),
        (b"/open/a%2fb/./c", b"/open/a%2fb/c"),  # other segments kept byte for byte
        (b"/open/.well-known/x", b"/open/.well-known/x"),
        (b"/open/..x/...", b"/open/..x/..."),  # not dot-segments
        (b"/a//../b", b"/a/b"),
    ],
)
def test_remove_dot_segments(raw: bytes, clean: bytes) -> None:
    assert remove_dot_segments(raw) == clean


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"/..", paths.CLIMBS),
        (b"/open/../../admin", paths.CLIMBS),
        (b"/open/%2e%2e/%2E%2E/admin", paths.CLIMBS),
        (b"/open/..%2fadmin", paths.ENCODED_SLASH),  # one segment to some upstreams, a climb to others
        (b"/open/x/%2e%2e%2F", paths.ENCODED_SLASH),
        (b"/open/a%2F../x", paths.ENCODED_SLASH),
    ],
)
def test_paths_that_no_cleaning_makes_safe_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(RefusedPath) as caught:
        remove_dot_segments(raw)
    assert caught.value.message == message


class Recording:
    """echo_app, remembering the raw path of every request that reached it."""

    def __init__(self) -> None:
        self.arrived: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.arrived.append(scope["raw_path"].decode("latin-1"))
        await echo_app(scope, receive, send)


def api(api_id: str, listen: str, target: str) -> dict[str, Any]:
    return {
        "api_id": api_id,
        "name": api_id,
        "use_keyless": True,
        "proxy": {"listen_path": listen, "target_url": target, "strip_listen_path": True},
    }


async def get(gw: RunningGateway, target: str) -> tuple[int, dict[str, Any]]:
    """GET `target` exactly as written; the status and the JSON body (the echo's, or the error)."""
    url = urlsplit(gw.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


CLEANED = [
    ("/open/./x", "/public/x"),
    ("/open/a/../x", "/public/x"),
    ("/open/a/%2e%2e/x?q=1", "/public/x"),
    ("/open/a/%2E./b/%2e/x", "/public/b/x"),
    ("/open/a%2fb/./c", "/public/a%2fb/c"),
    ("/open/.well-known/x", "/public/.well-known/x"),
    ("/elsewhere/../open/x", "/public/x"),  # no API under /elsewhere/: nothing was climbed out of
    ("/open/x/../inner/y", "/inner-target/y"),  # cleaned, then routed: the longer listen path wins
]
REFUSED = [
    ("/open/../../admin", paths.CLIMBS),
    ("/open/%2e%2e/%2e%2e/admin", paths.CLIMBS),
    ("/open/../admin/x", paths.CLIMBS),  # another API's listen path is still out of /open/
    ("/open/..", paths.CLIMBS),
    ("/open/..%2f..%2fadmin", paths.ENCODED_SLASH),
    ("/open/x/..%2Fy", paths.ENCODED_SLASH),
]


async def test_dot_segments_are_removed_before_routing_and_forwarding(tmp_path: Path) -> None:
    upstream = Recording()
    async with await serve(upstream) as served:
        apis = [
            api("open", "/open/", served.url + "/public"),
            api("inner", "/open/inner/", served.url + "/inner-target"),
            api("admin", "/admin/", served.url + "/private"),
        ]
        async with run_gateway(tmp_path, apis=apis) as gw:
            answers = [await get(gw, target) for target, _ in CLEANED]
    assert [(code, body["raw_path"]) for code, body in answers] == [(200, want) for _, want in CLEANED]
    assert answers[2][1]["query"] == "q=1"
    assert upstream.arrived == [want for _, want in CLEANED]


async def test_a_path_climbing_out_of_its_listen_path_is_refused_and_never_forwarded(tmp_path: Path) -> None:
    upstream = Recording()
    async with await serve(upstream) as served:
        apis = [
            api("open", "/open/", served.url + "/public"),
            api("admin", "/admin/", served.url + "/private"),
        ]
        async with run_gateway(tmp_path, apis=apis) as gw:
            answers = [await get(gw, target) for target, _ in REFUSED]
            after = await get(gw, "/open/x")
    assert answers == [(400, {"error": message}) for _, message in REFUSED]
    assert after[0] == 200
    assert upstream.arrived == ["/public/x"]  # only the request after
