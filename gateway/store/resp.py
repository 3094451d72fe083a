"""A pipelined RESP connection for the request path's Redis commands (GET, EVALSHA, SET NX, INCR).

Every command is written at once and the replies are matched in order (Redis answers a connection's
commands in the order sent), so concurrent requests share one connection without a pool checkout, a
retry wrapper or a task per read: the redis-py client cost about as much CPU as the rest of a request.
hiredis parses. A command that times out closes the connection (its reply could no longer be matched);
a lost connection fails what was waiting and the next command reconnects, to the address `resolve`
gives then (Sentinel's master of the moment); a READONLY reply (that master was demoted: nothing ran)
reconnects and sends once more. It raises OSError (a ConnectionError when the connection is gone),
TimeoutError and RespError; RedisStore turns them into StoreError. Every other command stays on redis-py.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, cast

import hiredis

from gateway.tasks import expire


class RespError(Exception):
    """Redis answered with an error reply."""


def _encode(args: tuple[Any, ...]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self._reader = hiredis.Reader(encoding="utf-8")
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._transport: asyncio.Transport | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have the same methods.
        self._transport, self.open = cast("asyncio.Transport", transport), True
        # Kept: on Python 3.11 each running-loop lookup is a getpid() syscall (four a call, with the
        # asyncio.timeout scope this replaced: bench/README.md, "The server side").
        self.loop = asyncio.get_running_loop()

    def send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        assert self._transport is not None
        future: asyncio.Future[Any] = self.loop.create_future()
        self._waiting.append(future)
        self._transport.write(_encode(args))
        return future

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        try:
            while (reply := self._reader.gets()) is not False:
                future = self._waiting.popleft()
                if not future.done():  # a timed-out caller left it cancelled
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError) as exc:  # garbage, or a reply nobody asked for
            self.close(OSError(f"unreadable reply: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        failure = ConnectionError(f"connection lost: {exc}" if exc else "connection closed by the server")
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(failure)

    def close(self, exc: Exception) -> None:
        self.open = False
        if self._transport is not None:
            self._transport.abort()  # connection_lost then fails whatever was waiting


Resolve = Callable[[], Awaitable[tuple[str, int]]]


class RespClient:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        db: int,
        username: str,
        password: str,
        timeout: float,
        resolve: Resolve | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._address = (host, port)
        self._resolve = resolve
        self._tls = tls
        self._setup: list[tuple[Any, ...]] = []
        if password:
            self._setup.append(("AUTH", username, password) if username else ("AUTH", password))
        if db:
            self._setup.append(("SELECT", db))
        self._timeout = timeout
        self._conn: _Connection | None = None
        self._connecting = asyncio.Lock()
        self._closes = 0  # a close while a connection is being made voids it: the server may have moved

    async def call(self, *args: Any) -> Any:
        reply = await self._send(args)
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("READONLY"):
            await self.close()  # a demoted master refused before running anything: ask for the new one
            reply = await self._send(args)
        if isinstance(reply, hiredis.ReplyError):
            raise RespError(str(reply))
        return reply

    async def _send(self, args: tuple[Any, ...]) -> Any:
        conn = self._conn if self._conn is not None and self._conn.open else await self._connect()
        reply = conn.send(args)
        timer = conn.loop.call_later(self._timeout, expire, reply)
        try:
            return await reply
        except TimeoutError:
            conn.close(TimeoutError())  # later replies would be matched to the wrong callers
            raise
        finally:
            timer.cancel()

    async def evalsha(self, script: str, digest: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self.call("EVALSHA", digest, len(keys), *keys, *args)
        except RespError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            return await self.call("EVAL", script, len(keys), *keys, *args)  # loads it for next time

    async def close(self) -> None:
        self._closes += 1
        if self._conn is not None:
            self._conn.close(OSError("client closed"))
            self._conn = None

    async def _connect(self) -> _Connection:
        async with self._connecting:  # one connect for every caller that found the connection gone
            if self._conn is not None and self._conn.open:
                return self._conn
            for _ in range(2):
                closes = self._closes
                conn = await self._open()
                if closes == self._closes:
                    self._conn = conn
                    return conn
                conn.close(OSError("closed while connecting"))  # once more, asking `resolve` again
            raise ConnectionError("closed while connecting")

    async def _open(self) -> _Connection:
        """Dial the server `resolve` names now, authenticate, select the database."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._timeout):
            host, port = await self._resolve() if self._resolve is not None else self._address
            try:
                _, conn = await loop.create_connection(
                    _Connection, host, port, ssl=self._tls, server_hostname=host if self._tls else None
                )
            except OSError as exc:
                raise ConnectionError(f"cannot connect: {exc.strerror or exc}") from exc
            try:
                for command in self._setup:
                    reply = await conn.send(command)
                    if isinstance(reply, hiredis.ReplyError):
                        raise RespError(str(reply))
            except BaseException:
                conn.close(OSError("setup failed"))  # a failed AUTH or a timeout leaves no socket
                raise
        return conn


def digest(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()
