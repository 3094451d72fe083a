"""The listener's request-response cycle: uvicorn's httptools protocol with its per-request work cut to
what the gateway needs (a lean scope, one validation over a response head, the head and a whole body in
one write, no keep-alive timer per response). The ASGI interface the app sees is unchanged.

It parses and writes HTTP/1.1 only; limits and refusals are app/listener.py's, the app's answers its own.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

_ASGI = {"version": "3.0", "spec_version": "2.3"}
# What uvicorn checks with two regexes per header, checked once per head: names are RFC 9110 tokens (each
# distinct name checked once, then remembered), and values hold no control character but a tab. The head
# is right when deleting its control characters removes exactly its own line ends (one translate).
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_CONTROLS = bytes(c for c in range(32) if c != 9) + b"\x7f"
_TOKENS: set[bytes] = set()
_TOKENS_MAX = 4096  # upstreams choose header names: the memory of good ones stays bounded
_METHODS = {m: m.decode() for m in (b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS")}


class Cycle(RequestResponseCycle):
    """One request and its response. A response head waits for the first body message, so that a
    response sent whole leaves in one write (one syscall, not two); a head not followed by its body in
    the same loop turn (a stream waiting on its upstream) is written by the turn's end."""

    def __init__(self, protocol: LeanProtocol, scope: Any, keep_alive: bool) -> None:
        # RequestResponseCycle's attributes, set directly: its constructor takes eleven arguments.
        self.scope = scope
        self.transport = protocol.transport
        self.flow = protocol.flow
        self.logger = protocol.logger
        self.access_log = False
        self.message_event = asyncio.Event()
        self.on_response = protocol.on_response_complete
        self.disconnected = False
        self.keep_alive = keep_alive
        self.waiting_for_100_continue = protocol.expect_100_continue
        self.body = bytearray()
        self.more_body = True
        self.response_started = False
        self.response_complete = False
        self.chunked_encoding: bool | None = None
        self.expected_content_length = 0
        self._loop = protocol.loop
        self._head: bytes | None = None  # written with the first body message, or at the turn's end

    async def send(self, message: Any) -> None:
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError(f"expected 'http.response.start', got '{message['type']}'")
            self._start(message["status"], message.get("headers", ()))
        elif not self.response_complete:
            if message["type"] != "http.response.body":
                raise RuntimeError(f"expected 'http.response.body', got '{message['type']}'")
            self._body(message.get("body", b""), message.get("more_body", False))
        else:
            raise RuntimeError(f"'{message['type']}' sent after the response was complete")

    def _start(self, status: int, headers: Any) -> None:
        lines: list[bytes] = []
        chunked: bool | None = None
        length = 0
        close = False
        for name, value in headers:
            name = name.lower()
            if name not in _TOKENS:
                _check_name(name)
            if name == b"content-length" and chunked is None:
                length, chunked = int(value.decode()), False
            elif name == b"transfer-encoding" and value.lower() == b"chunked":
                length, chunked = 0, True
            elif name == b"connection" and b"close" in [t.strip().lower() for t in value.split(b",")]:
                close = True
            lines += (name, b": ", value, b"\r\n")
        ends = len(lines) // 4
        if not self.keep_alive and not close:
            lines.append(b"connection: close\r\n")
            ends += 1
        if chunked is None and self.scope["method"] != "HEAD" and status not in (204, 304):
            chunked = True
            lines.append(b"transfer-encoding: chunked\r\n")
            ends += 1
        head = b"".join(lines)
        if len(head) - len(head.translate(None, _CONTROLS)) != 2 * ends:
            # Nothing is written and nothing set, so uvicorn's wrapper can answer 500 instead (uvicorn
            # itself would cut the connection).
            raise RuntimeError("invalid HTTP header value")
        self.response_started = True
        self.waiting_for_100_continue = False
        self.chunked_encoding, self.expected_content_length = chunked, length
        if close:
            self.keep_alive = False
        self._head = STATUS_LINE[status] + head + b"\r\n"
        self._loop.call_soon(self._flush_head)

    def _flush_head(self) -> None:
        if self._head is not None and not self.transport.is_closing():
            self.transport.write(self._head)
        self._head = None

    def _body(self, body: bytes, more_body: bool) -> None:
        if self.scope["method"] == "HEAD":
            self.expected_content_length = 0
            out = b""
        elif self.chunked_encoding:
            out = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
            if not more_body:
                out += b"0\r\n\r\n"
        else:
            if len(body) > self.expected_content_length:
                raise RuntimeError("Response content longer than Content-Length")
            self.expected_content_length -= len(body)
            out = body
        if self._head is not None:
            out, self._head = self._head + out, None
        if out:
            self.transport.write(out)
        if not more_body:
            if self.expected_content_length != 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()


def _check_name(name: bytes) -> None:
    if not name or _NOT_TOKEN.search(name):
        raise RuntimeError(f"invalid HTTP header name {name!r}")
    if len(_TOKENS) < _TOKENS_MAX:
        _TOKENS.add(name)


class LeanProtocol(HttpToolsProtocol):
    """uvicorn's protocol building a lean scope and a `Cycle` per request. Unlike uvicorn's, the scope
    has no lifespan `state` copy (the gateway keeps none) and an origin-form target is split without
    httptools' URL parser."""

    def on_message_begin(self) -> None:
        self.url = b""
        self.expect_100_continue = False
        self.headers = []
        self.scope = {  # type: ignore[typeddict-item]
            "type": "http",
            "asgi": _ASGI,
            "http_version": "1.1",
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,
            "root_path": "",
            "headers": self.headers,
        }

    def on_headers_complete(self) -> None:
        parser = self.parser
        scope: Any = self.scope
        method = parser.get_method()
        scope["method"] = _METHODS.get(method) or method.decode("ascii")
        version = parser.get_http_version()
        if version != "1.1":
            scope["http_version"] = version
        if parser.should_upgrade() and self._should_upgrade():
            return
        url = self.url
        if url[:1] == b"/" and b"#" not in url:
            raw_path, _, query = url.partition(b"?")
        else:  # absolute-form, asterisk-form, a fragment: httptools' parser, as uvicorn does
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        existing = self.cycle
        self.cycle = cycle = Cycle(self, scope, version != "1.0" and parser.should_keep_alive())
        if existing is None or existing.response_complete:
            self._start_asgi_task(cycle, self.app)
        else:  # pipelined behind an answer still being written: queued, as uvicorn does
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))
