"""Anchor: the naive proxy a user writes in an afternoon: Starlette, one shared httpx client, streamed."""

from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from bench.anchors.common import POOL, forward_headers, response_headers, upstream_url

client = None


@asynccontextmanager
async def lifespan(app):
    global client
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=POOL, max_keepalive_connections=POOL, keepalive_expiry=60),
        timeout=httpx.Timeout(30.0),
        follow_redirects=False,
    )
    async with client:
        yield


async def proxy(request: Request):
    headers, has_body = forward_headers(request.scope)
    req = client.build_request(
        request.method,
        upstream_url(request.scope),
        headers=headers,
        content=request.stream() if has_body else None,
    )
    resp = await client.send(req, stream=True)
    out = StreamingResponse(
        resp.aiter_raw(), status_code=resp.status_code, background=BackgroundTask(resp.aclose)
    )
    out.raw_headers = response_headers(resp.headers.raw)
    return out


METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
app = Starlette(routes=[Route("/{path:path}", proxy, methods=METHODS)], lifespan=lifespan)
