"""WebhookRecorder: a real webhook receiver (raw ASGI) that records what it is sent.

Serve it on a loopback port next to the gateway, point a handler's URL at it, and await
`wait_for(n)`: a bounded wait, never a sleep. It answers with a fixed status, after any scripted
answers (`script`: status and extra headers, one per request in order), so a test can also play a
failing, rate-limited, redirecting or gone target. It must stay free of gateway internals: it sees only HTTP.
A `Tap` (opt-in) also sees what every recorder receives while it is installed.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Delivery:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names; the last value wins for repeated names
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (raises ValueError when the webhook sent something else)."""
        return json.loads(self.body)


class Tap:
    """Every delivery any recorder receives while installed (`with Tap() as tap:`), so a suite can check
    all webhook bodies without each test passing something along. The last `limit` are kept, and `seen`
    counts them all: a flood cannot fill memory."""

    def __init__(self, limit: int = 1000) -> None:
        self.deliveries: deque[Delivery] = deque(maxlen=limit)
        self.seen = 0

    def __enter__(self) -> Tap:
        TAPS.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        TAPS.remove(self)


TAPS: list[Tap] = []  # module-level: recorders are made inside tests, the tap by a fixture around them

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class WebhookRecorder:
    def __init__(
        self,
        status: int = 200,
        on_delivery: Callable[[Delivery], None] | None = None,
        script: Sequence[tuple[int, Mapping[str, str]]] = (),
    ) -> None:
        self.status = status
        self.script = list(script)
        self.deliveries: list[Delivery] = []
        self._on_delivery = on_delivery
        self._changed = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
        delivery = Delivery(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            body=body,
        )
        self.deliveries.append(delivery)
        for tap in TAPS:
            tap.deliveries.append(delivery)
            tap.seen += 1
        self._changed.set()
        if self._on_delivery is not None:
            self._on_delivery(delivery)
        status, extra = self.script.pop(0) if self.script else (self.status, {})
        headers = [(b"content-type", b"application/json")]
        headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})

    async def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[Delivery]:
        """Wait until at least `count` deliveries arrived; TimeoutError (with what did arrive) otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.deliveries) < count:
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"expected {count} webhook deliveries within {timeout}s, got "
                    f"{len(self.deliveries)}: {[d.body[:200] for d in self.deliveries]}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue
        return self.deliveries[:count]
