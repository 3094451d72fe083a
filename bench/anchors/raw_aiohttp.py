"""Anchor: a raw ASGI reverse proxy (no framework) on one pooled aiohttp session, streamed response."""

import aiohttp

from bench.anchors.common import POOL, forward_headers, response_headers, upstream_url

session: aiohttp.ClientSession | None = None


async def _lifespan(receive, send):
    global session
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=POOL, limit_per_host=POOL, keepalive_timeout=60),
                timeout=aiohttp.ClientTimeout(total=30),
                auto_decompress=False,
            )
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await session.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        return await _lifespan(receive, send)
    if scope["type"] != "http":
        return
    headers, has_body = forward_headers(scope)

    async def body():
        while True:
            msg = await receive()
            yield msg.get("body", b"")
            if not msg.get("more_body"):
                return

    resp = await session.request(
        scope["method"],
        upstream_url(scope),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
        data=body() if has_body else None,
        allow_redirects=False,
    )
    try:
        await send(
            {
                "type": "http.response.start",
                "status": resp.status,
                "headers": response_headers(resp.raw_headers),
            }
        )
        async for chunk in resp.content.iter_any():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        resp.release()
