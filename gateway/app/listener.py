"""The listener's HTTP limits (tyk.conf `http_server_options`): uvicorn's httptools protocol with caps on a
request's head (bytes, headers, target) answered 431 or 414, a deadline for it (408), the idle timeout.

It acts before the app sees a request and adds counters, never a timer, per request; it knows no API.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar, cast

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from gateway.app.cycle import LeanProtocol
from gateway.certs.tls import TLSProtocol
from gateway.config.server import HttpServerOptions
from gateway.errors import render_error
from gateway.log import get_logger

log = get_logger("listener")

# Seconds a refused connection's further input is read and dropped before it is closed (see _Drain).
LINGER = 2.0
_REASONS = {408: "Request Timeout", 414: "URI Too Long", 431: "Request Header Fields Too Large"}
_INVALID = "Invalid HTTP request received."  # uvicorn's own words for a request llhttp cannot parse


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a refused request; data_received swallows it."""


class LimitedProtocol(LeanProtocol):
    """uvicorn's protocol, counting a head's bytes as they arrive so that an endless one is cut off at
    the limit (llhttp and httptools would buffer it whole), and timing it from its first byte."""

    # Set per server by `protocol()`; read as class attributes, never copied per connection.
    max_bytes: ClassVar[int] = HttpServerOptions().max_header_bytes
    max_count: ClassVar[int] = HttpServerOptions().max_header_count
    max_url: ClassVar[int] = HttpServerOptions().max_url_bytes
    head_timeout: ClassVar[float] = HttpServerOptions().read_header_timeout
    idle_timeout: ClassVar[float] = HttpServerOptions().idle_timeout
    _sweep: ClassVar[asyncio.TimerHandle | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = b""
        # Bytes received since the last request ended (or the connection began), at least the next head's
        # size and at most a read more; -1 while a head's request is being read and answered.
        self._head_bytes = 0
        self._head_since: float | None = None  # when the head being read began (None: not timing)
        # When the last answer was complete on a kept-alive connection with nothing since (None: busy).
        # The sweep closes it past idle_timeout: one timer per server, not one per response as uvicorn's.
        self._idle_since: float | None = None
        self._refused = False
        self._status = 0  # a refusal waiting for the answer in flight

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_since = self.loop.time()  # a connection that never sends a byte is timed too
        cls = type(self)
        if cls._sweep is None:
            cls._sweep = self.loop.call_later(self._interval(), cls._check_all, self.loop, self.connections)

    def data_received(self, data: bytes) -> None:
        # uvicorn's data_received, with the count, and without its 400 after a refusal of ours.
        self._idle_since = None
        if self._head_bytes >= 0:
            if self._head_bytes > self.max_bytes:  # refused while an answer was in flight: drop the rest
                return
            if self._head_since is None:  # on a kept-alive connection the clock starts at the first byte
                self._head_since = self.loop.time()
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if not self._refused:
                self.logger.warning(_INVALID)
                self.send_400_response(_INVALID)
            return
        # Still in a head past the limit: the client is sending an endless one. Answer before buffering more.
        if self._head_bytes > self.max_bytes and not self._refused:
            self._refuse(414 if len(self.url) > self.max_url else 431)

    def on_headers_complete(self) -> None:
        if (
            self._head_bytes > self.max_bytes
            or len(self.headers) > self.max_count
            or len(self.url) > self.max_url
        ):
            self._check_head()  # rarely: a read that also carried some body, or a refusal
        self._head_bytes = -1
        self._head_since = None
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # uvicorn's, but for its keep-alive timer: the sweep times idle connections.
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        else:
            self._idle_since = self.loop.time()

    def _check_head(self) -> None:
        """Refuse a complete head over a limit. Its byte count may include some body read with it: then
        the headers themselves are measured."""
        too_large = len(self.headers) > self.max_count or self._head_size() > self.max_bytes
        if too_large or len(self.url) > self.max_url:
            self._refuse(431 if too_large else 414)
            raise _Refused  # llhttp stops here: no app, no body read

    def on_message_complete(self) -> None:
        self._head_bytes = 0
        super().on_message_complete()

    def _head_size(self) -> int:
        """The head's bytes as sent, but the method and version: target, names, values, ": " and CRLFs."""
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _refuse(self, status: int) -> None:
        self._refused = True
        self._head_bytes = self.max_bytes + 1  # whatever else arrives is dropped, never parsed
        self._head_since = None
        log.debug("refused a request from %s: %d %s", self.client, status, _REASONS[status])
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # Pipelined behind an answer still being written: refuse once that answer is complete.
            self._status = status
            cycle.on_response = self._refuse_after
            self.flow.pause_reading()
            return
        body, media = render_error(_REASONS[status])
        head = b"content-type: %s\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % (media, len(body))
        self.transport.write(STATUS_LINE[status] + head + body)
        self._unset_keepalive_if_required()
        self.connections.discard(self)
        self.transport.set_protocol(_Drain(self.transport, self.connections, self.loop))

    def _refuse_after(self) -> None:
        """The answer in flight is complete: uvicorn's bookkeeping (which may start a request pipelined
        before the refused one, to wait for in turn), then the refusal."""
        self.on_response_complete()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.on_response = self._refuse_after
            self.flow.pause_reading()
        else:
            self._refuse(self._status)

    def _timed_out(self) -> None:
        if self._refused or self.transport.is_closing():
            return
        if self._head_bytes > 0:
            self._refuse(408)
        else:  # never sent a byte (a preconnect, or a slowloris opener): nothing to answer
            self._refused = True
            self.transport.close()

    @classmethod
    def _interval(cls) -> float:
        # Closes within a timeout plus a quarter of it, or plus 1 s.
        return max(0.05, min(1.0, min(cls.head_timeout, cls.idle_timeout) / 4))

    @classmethod
    def _check_all(cls, loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        """The sweep: close the connections whose head has taken longer than the timeout, and those idle
        past the idle timeout."""
        now = loop.time()
        started_before, idle_before = now - cls.head_timeout, now - cls.idle_timeout
        for conn in list(connections):
            since = getattr(conn, "_head_since", None)
            if since is not None and since <= started_before:
                conn._timed_out()
            idle = getattr(conn, "_idle_since", None)
            if idle is not None and idle <= idle_before and not conn.transport.is_closing():
                conn.transport.close()
        # It stops with the last connection and restarts with the next (no timer left on an idle loop).
        cls._sweep = (
            loop.call_later(cls._interval(), cls._check_all, loop, connections) if connections else None
        )


class _LimitedTLS(TLSProtocol, LimitedProtocol):
    """The limits over HTTPS, with the TLS extension (certs/tls.py) in the scope."""


class _Drain(asyncio.Protocol):
    """A refused connection once its answer is written: what the client still sends is read and dropped
    until it stops or LINGER seconds pass. Closing at once with unread input would send a reset, which
    can destroy the answer before the client reads it; dropping it keeps memory flat."""

    def __init__(
        self, transport: asyncio.Transport, connections: set[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.transport = transport
        self.connections = connections
        connections.add(self)  # so that uvicorn's shutdown closes it and waits for it
        self._timer = loop.call_later(LINGER, transport.close)
        if transport.can_write_eof():
            transport.write_eof()  # the client reads the answer, then the end: it need not wait for LINGER

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> None:
        return None  # the transport closes itself

    def shutdown(self) -> None:
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._timer.cancel()
        self.connections.discard(self)


def protocol(options: HttpServerOptions, *, tls: bool = False) -> type[HttpToolsProtocol]:
    """The protocol class for one server (uvicorn's `http=`): its limits, and its own sweep."""
    base = _LimitedTLS if tls else LimitedProtocol
    limits = {
        "max_bytes": options.max_header_bytes,
        "max_count": options.max_header_count,
        "max_url": options.max_url_bytes,
        "head_timeout": options.read_header_timeout,
        "idle_timeout": options.idle_timeout,
        "_sweep": None,
    }
    return cast("type[HttpToolsProtocol]", type(base.__name__, (base,), limits))
