"""The pipelined RESP connection on a real Redis: concurrent commands get their own replies, the
database and ACL credentials are used, a silent server times out without mixing replies up, and a
Redis that closes the connection is reconnected to on the next command."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from gateway.config.model import StorageConfig
from gateway.errors import StoreError
from gateway.store.redis import RedisStore
from gateway.store.resp import RespClient
from tests.conftest import RedisServer, redis_command


async def test_concurrent_commands_get_their_own_replies(redis_flush: RedisServer) -> None:
    store = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    await asyncio.gather(*(store.set(f"k{i}", f"v{i}") for i in range(50)))
    values = await asyncio.gather(*(store.get(f"k{i}") for i in range(500)))
    assert values == [f"v{i}" if i < 50 else None for i in range(500)]
    counts = await asyncio.gather(*(store.incr(f"n{i % 5}", 60) for i in range(100)))
    assert sorted(counts) == sorted(list(range(1, 21)) * 5)
    await store.close()


async def test_database_and_acl_user_are_used(redis_flush: RedisServer) -> None:
    reply = redis_command(redis_flush, b"ACL SETUSER gw-test on >s3cret ~* +@all")
    assert reply == b"+OK", reply
    cfg = StorageConfig(
        type="redis",
        host=redis_flush.host,
        port=redis_flush.port,
        database=3,
        username="gw-test",
        password="s3cret",
    )
    store = RedisStore(cfg)
    assert await store.set_nx("only-in-3", "x", 10_000) is True
    assert redis_command(redis_flush, b"EXISTS only-in-3") == b":0"  # not in database 0
    await store.close()
    wrong = RedisStore(replace(cfg, password="nope"))
    with pytest.raises(StoreError, match=r"WRONGPASS|invalid"):
        await wrong.get("k")
    await wrong.close()


async def test_a_silent_server_times_out_and_replies_never_get_mixed_up() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await reader.read()  # reads everything, answers nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RespClient("127.0.0.1", port, db=0, username="", password="", timeout=0.2)
    for _ in range(2):
        with pytest.raises(TimeoutError):
            await client.call("GET", "k")
    assert len(connections) == 2  # the timed-out connection was dropped, a new one made
    await client.close()
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_a_closed_connection_is_made_again(redis_flush: RedisServer) -> None:
    store = RedisStore(StorageConfig(type="redis", host=redis_flush.host, port=redis_flush.port))
    await store.set("k", "v")
    assert await store.get("k") == "v"
    assert redis_command(redis_flush, b"CLIENT KILL TYPE normal").startswith(b":")
    assert await store.get("k") == "v"  # reconnected (a read is sent again once)
    assert await store.set_nx("k2", "v", 1000) is True
    await store.close()
