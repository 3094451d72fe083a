"""The hot path on a Redis Cluster: each request-path command on a pipelined connection (resp.py) to the
node owning its key's slot, by the cluster client's map. That client stays the authority, taking the first
commands (it loads the map), those answered MOVED, ASK, TRYAGAIN or CLUSTERDOWN, and all of them for a
second after a node's connection failed. Nothing is sent twice."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.crc import key_slot
from redis.exceptions import NoScriptError, RedisClusterException

from gateway.store.resp import RespClient, RespError

# A node's refusal that means "ask the cluster", not "the command failed".
_REDIRECTS = ("MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN")
AFTER_FAILURE = 1.0  # seconds every command goes through the cluster client after a node failed


class ClusterCalls:
    def __init__(self, client: RedisCluster, options: dict[str, Any]) -> None:
        self._client = client
        self._options = options  # RespClient's: db, username, password, timeout, tls
        self._nodes: dict[tuple[str, int], RespClient] = {}
        self._direct_after = 0.0  # the loop time from which nodes are dialled again

    async def call(self, *args: Any) -> Any:
        fast = self._node(str(args[1]))
        if fast is not None:
            try:
                return await fast.call(*args)
            except RespError as exc:
                if not str(exc).startswith(_REDIRECTS):
                    raise
            except OSError:  # it may have run: not sent again here (the store retries a GET)
                await self._failed()
                raise
        return await self._client.execute_command(*args)

    async def evalsha(self, script: str, digest: str, keys: list[str], args: list[Any]) -> Any:
        fast = self._node(keys[0]) if keys else None
        if fast is not None:
            try:
                return await fast.evalsha(script, digest, keys, args)
            except RespError as exc:
                if not str(exc).startswith(_REDIRECTS):
                    raise
            except OSError:
                await self._failed()
                raise
        try:
            return await self._client.execute_command("EVALSHA", digest, len(keys), *keys, *args)
        except NoScriptError:  # a node that has not run it yet: EVAL loads it there for next time
            return await self._client.execute_command("EVAL", script, len(keys), *keys, *args)

    async def close(self) -> None:
        """The nodes' connections; the store closes the cluster client."""
        nodes, self._nodes = self._nodes, {}
        for fast in nodes.values():
            await fast.close()

    def _node(self, key: str) -> RespClient | None:
        if asyncio.get_running_loop().time() < self._direct_after:
            return None
        try:
            node = self._client.nodes_manager.get_node_from_slot(key_slot(key.encode()))
        except RedisClusterException:  # no map yet (the first command loads it), or a slot uncovered
            return None
        address = (node.host, int(node.port))
        fast = self._nodes.get(address)
        if fast is None:
            fast = self._nodes[address] = RespClient(*address, **self._options)
        return fast

    async def _failed(self) -> None:
        """Let the cluster client find out what happened (a failover, a node gone) before dialling again."""
        self._direct_after = asyncio.get_running_loop().time() + AFTER_FAILURE
        await self.close()
