"""`ControlledUpstream`: an upstream a test can break, slow down and mend while the gateway runs.

It answers every request with JSON (`{"ok": true, "path": ..., "hits": n}`) or, on command, with a
chosen status or after a delay; `hits` counts the requests that reached it, per path. It sees only
HTTP: connection failures are made by closing the server it runs in, not here.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from gateway.testing.servers import _lifespan
from gateway.upstream.proxy import Receive, Scope, Send


class ControlledUpstream:
    """Healthy by default; `fail(503)`, `slow(0.5)` and `recover()` change how it answers from now on.

    `fail` can be limited to paths starting with a prefix, so one API's health check can fail while
    another path serves. `hits[path]` and `total` count arrivals, including failed ones.
    """

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.total = 0
        self._status = 200
        self._prefix = ""
        self._delay = 0.0

    def fail(self, status: int = 500, prefix: str = "") -> None:
        self._status, self._prefix = status, prefix

    def slow(self, seconds: float) -> None:
        self._delay = seconds

    def recover(self) -> None:
        self._status, self._prefix, self._delay = 200, "", 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path: str = scope["path"]
        self.hits[path] += 1
        self.total += 1
        if self._delay:
            await asyncio.sleep(self._delay)  # the behaviour under test: a slow upstream, not a wait
        status = self._status if path.startswith(self._prefix) else 200
        body = json.dumps({"ok": status < 400, "path": path, "hits": self.hits[path]}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
