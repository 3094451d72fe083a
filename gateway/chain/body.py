"""The request body inside the chain, for the steps that must read it (Basic auth credentials from the
body): read whole, up to a cap, once per request, then replayed to the upstream so that it gets what the
client sent. Routing hands the body over (`ctx.outgoing.receive`) only to a chain with a step marked
`reads_body`; no other request pays for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gateway.context import RequestContext
from gateway.errors import Reject

Message = MutableMapping[str, Any]  # ASGI's, as upstream/proxy.py names it
Receive = Callable[[], Awaitable[Message]]

CAP = 1 << 20  # 1 MiB: a body a credential is read from is a form or a small document, never an upload
TOO_LARGE = "Request body too large to read credentials from"
INCOMPLETE = "Request body incomplete"


async def read_body(ctx: RequestContext) -> bytes:
    """The whole body (413 past the cap, 400 if the client goes away first); later calls get it again."""
    out = ctx.outgoing
    if out.body is not None:
        return out.body
    receive = out.receive
    assert receive is not None, "routing hands the body only to chains marked reads_body"
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Reject(400, INCOMPLETE)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > CAP:
            raise Reject(413, TOO_LARGE)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    out.body = b"".join(chunks)
    out.receive = replay(out.body, receive)
    return out.body


def replay(body: bytes, receive: Receive) -> Receive:
    """`body` as one message, then the client's own messages (a disconnect, if it comes)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
