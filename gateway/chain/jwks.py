"""An API's JWKS endpoints: their keys fetched, kept for each endpoint's cache time (Tyk's default 240 s),
and looked up by the token's `kid`.

Fixed against Tyk: an unknown `kid` fetches the sets again (at most once per REFETCH_AFTER seconds, so
made-up kids are not a flood of fetches), a failed or empty fetch does not replace the last keys, a
fetch has a timeout (the client's), a non-200 answer is a failure, and a raw URL works on every request
(Tyk's issue #7461). One fetch at a time per API: its requests wait for it, no other API's do.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from jwt import PyJWKSet
from jwt.exceptions import PyJWKSetError

from gateway.log import Throttle, get_logger

log = get_logger("chain.jwt")
_failures = Throttle(30.0)

DEFAULT_CACHE = 240.0  # Tyk's jwks.cache.timeout default
REFETCH_AFTER = 10.0  # an unknown kid fetches again no sooner than this


class JWKS:
    def __init__(self, api_id: str, endpoints: tuple[tuple[str, float], ...]) -> None:
        self.api_id = api_id
        self.endpoints = endpoints
        self._keys: dict[str, Any] = {}  # kid -> key object, from every endpoint
        self._until = 0.0  # when the cached keys go stale (the shortest cache time among the endpoints)
        self._fetched = -REFETCH_AFTER
        self._lock = asyncio.Lock()

    async def key(self, http: httpx.AsyncClient | None, kid: str) -> Any:
        """The key for `kid`, or None when no endpoint has it (or none answers)."""
        now = time.monotonic()
        if now < self._until and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            now = time.monotonic()
            # Stale keys or an unknown kid fetch again, but never more often than REFETCH_AFTER: an
            # endpoint that is down is not asked on every request, and meanwhile the last keys serve.
            if (now >= self._until or kid not in self._keys) and now - self._fetched >= REFETCH_AFTER:
                await self._fetch(http, now)
            return self._keys.get(kid)

    def forget(self) -> None:
        """Drop the cached keys (DELETE /tyk/cache/jwks): the next token fetches them again."""
        self._keys, self._until, self._fetched = {}, 0.0, -REFETCH_AFTER

    async def _fetch(self, http: httpx.AsyncClient | None, now: float) -> None:
        if http is None:
            return
        keys: dict[str, Any] = {}
        ttl = min((seconds or DEFAULT_CACHE) for _, seconds in self.endpoints)
        for url, _ in self.endpoints:
            try:
                resp = await http.get(url)
                if resp.status_code != 200:
                    raise ValueError(f"HTTP {resp.status_code}")
                found = PyJWKSet.from_dict(resp.json())
            except (httpx.HTTPError, ValueError, PyJWKSetError) as exc:
                if _failures.allow(url):
                    log.warning("API %r: JWKS %s could not be read: %s", self.api_id, url, exc)
                continue
            for jwk in found.keys:
                if jwk.key_id and jwk.key_id not in keys:
                    keys[jwk.key_id] = jwk.key  # the key object: the token's alg decides, as in Tyk
        self._fetched = now
        if keys:  # a failed or empty fetch is not kept: the next request asks again
            self._keys, self._until = keys, now + ttl
