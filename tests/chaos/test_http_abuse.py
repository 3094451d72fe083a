"""Hostile HTTP against a real gateway: request-smuggling framings are answered 400 and nothing reaches
the upstream, and a large chunked upload streams through with the gateway's memory flat.

Header size, count, slow heads and idle connections are held by the listener's own tests
(tests/app/test_listener.py); dot-segments by tests/upstream/test_paths.py.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gateway.testing import ControlledUpstream, serve, unused_port
from tests.app.test_listener import api, exchange, gateway, status
from tests.e2e.test_outbox import start
from tests.e2e.test_two_gateways import wait_ready

SMUGGLED = b"GET /open/smuggled HTTP/1.1\r\nHost: g\r\n\r\n"
FRAMINGS = {
    "CL.TE": b"Content-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "TE.CL": b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\n" + SMUGGLED + b"\r\n0\r\n\r\n",
    "two lengths": b"Content-Length: 0\r\nContent-Length: 44\r\n\r\n" + SMUGGLED,
    "length list": b"Content-Length: 0, 44\r\n\r\n" + SMUGGLED,
    "signed length": b"Content-Length: +44\r\n\r\n" + SMUGGLED,
    "TE obfuscated": b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "TE with space": b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "TE folded": b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
    "bad chunk size": b"Transfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n" + SMUGGLED,
    "bare LF": b"Transfer-Encoding: chunked\n\n0\n\n" + SMUGGLED,
}


@pytest.mark.parametrize("framing", FRAMINGS.values(), ids=FRAMINGS.keys())
async def test_smuggling_framings_are_refused_and_nothing_is_forwarded(
    tmp_path: Path, framing: bytes
) -> None:
    async with gateway(tmp_path) as (gw, upstream):
        answer = await exchange(gw, b"POST /open/x HTTP/1.1\r\nHost: g\r\n" + framing)
    assert status(answer) == 400, answer[:200]
    assert upstream.total == 0, dict(upstream.hits)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


UPLOAD = 256 * 1024 * 1024  # bytes, sent in 256 KiB chunks


async def test_a_large_chunked_upload_streams_through_with_flat_memory(tmp_path: Path) -> None:
    upstream = ControlledUpstream()
    async with await serve(upstream) as served:
        (tmp_path / "apps").mkdir()
        (tmp_path / "apps" / "open.json").write_text(json.dumps(api(served.url)))
        port = unused_port()
        url = f"http://127.0.0.1:{port}"
        proc = start(tmp_path, "gw", port, {})
        try:
            async with httpx.AsyncClient(timeout=120) as client:
                await wait_ready(client, url + "/hello", proc)
                before = rss_kib(proc.pid)
                peak = before

                async def body() -> AsyncIterator[bytes]:
                    nonlocal peak
                    chunk = b"x" * (256 * 1024)
                    for n in range(UPLOAD // len(chunk)):
                        if n % 64 == 0:
                            peak = max(peak, rss_kib(proc.pid))
                        yield chunk

                answer = await client.post(url + "/open/upload", content=body())
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(proc.wait, 30)
    assert answer.status_code == 200 and upstream.hits["/public/upload"] == 1
    # Streamed, never buffered: the gateway grows by a few buffers, not by the 256 MiB it carried.
    assert peak - before < 64 * 1024, f"RSS grew from {before} KiB to {peak} KiB"
