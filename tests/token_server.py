"""A real OAuth token endpoint for tests (an ASGI app to run with `serve`): it issues `tok-1`, `tok-2`,
... counting and recording every request, and fails, shortens lifetimes or refuses a client
authentication method on command. Test support only.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass
class TokenRequest:
    path: str
    headers: dict[str, str]
    form: dict[str, str]

    @property
    def basic(self) -> tuple[str, str] | None:
        """The (client id, secret) of an HTTP basic header, unescaped as RFC 6749 2.3.1 says."""
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, secret = base64.b64decode(value[6:]).decode().partition(":")
        return unquote(user), unquote(secret)


@dataclass
class TokenServer:
    expires_in: Any = 3600
    fail_status: int | None = None  # answer every request with this status and `fail_body`
    fail_body: bytes = b'{"error":"invalid_client","error_description":"bad secret"}'
    fail_content_type: bytes = b"application/json"
    body: bytes | None = None  # a raw 200 body instead of a token (malformed answers)
    accept: str = "any"  # "basic" or "post": refuse the other client authentication with 401
    form_response: bool = False  # answer application/x-www-form-urlencoded, as GitHub does
    extra: dict[str, Any] = field(default_factory=dict)
    requests: list[TokenRequest] = field(default_factory=list)
    issued: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = TokenRequest(
            path=scope["path"],
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
            form=dict(parse_qsl(raw.decode())),
        )
        self.requests.append(request)
        if self.fail_status is not None:
            await _reply(send, self.fail_status, self.fail_body, self.fail_content_type)
            return
        if (self.accept == "basic" and request.basic is None) or (
            self.accept == "post" and "client_id" not in request.form
        ):
            await _reply(send, 401, b'{"error":"invalid_client"}', b"application/json")
            return
        if self.body is not None:
            await _reply(send, 200, self.body, b"application/json")
            return
        self.issued += 1
        token = {"access_token": f"tok-{self.issued}", "token_type": "Bearer", **self.extra}
        if self.expires_in is not None:
            token["expires_in"] = self.expires_in
        if self.form_response:
            body = "&".join(f"{k}={v}" for k, v in token.items()).encode()
            await _reply(send, 200, body, b"application/x-www-form-urlencoded")
        else:
            await _reply(send, 200, json.dumps(token).encode(), b"application/json")


async def _reply(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
