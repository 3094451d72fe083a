"""Python request hooks (Tyk's custom middleware with the `python` driver): PreHooks run before auth,
PostAuthHooks after it, PostHooks last before the proxy.

A hook is `def hook(request, api)` or `async def`, imported once per API from middleware_path when the
routes are built; a broken file is a ConfigError that skips the API, since a pre hook may be doing access
control. `request` reads the request and changes the headers sent upstream; `api.reject(status, message)`
answers the client; `api.fire(name, fields)` fires a custom event. A hook that raises or overruns its
timeout answers 500, as Tyk does for a failing plugin, and is logged. It never reaches the store itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from gateway import usercode
from gateway.apidef.model import APISpec
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import UPSTREAM_PROBLEM, Reject
from gateway.events.catalog import custom_meta, is_custom
from gateway.log import Throttle, get_logger

log = get_logger("hooks")


class HookRequest:
    """What a hook sees of the request, and the upstream headers it may change."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx

    @property
    def method(self) -> str:
        return str(self._ctx.scope["method"])

    @property
    def path(self) -> str:
        return self._ctx.path

    @property
    def query(self) -> str:
        return bytes(self._ctx.scope.get("query_string", b"")).decode("latin-1")

    @property
    def headers(self) -> dict[str, str]:
        """Lower-case names; the first value of a repeated header."""
        out: dict[str, str] = {}
        for k, v in self._ctx.scope["headers"]:
            out.setdefault(k.decode("latin-1"), v.decode("latin-1"))
        return out

    @property
    def client_ip(self) -> str:
        return self._ctx.origin

    @property
    def org_id(self) -> str:
        """The authenticated key's org (post-auth stages), else the API's."""
        session = self._ctx.session
        return session.org_id if session is not None and session.org_id else self._ctx.spec.org_id

    def set_header(self, name: str, value: str) -> None:
        """Send `name: value` upstream, replacing what the client sent."""
        self._ctx.outgoing.set_header(name.lower(), value)

    def remove_header(self, name: str) -> None:
        self._ctx.outgoing.remove_header(name)


class HookAPI:
    """The API a hook runs for: its ids, and what it may do besides changing the request."""

    __slots__ = ("_ctx", "api_id", "org_id")

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx
        self.api_id = ctx.spec.api_id
        self.org_id = ctx.spec.org_id

    def reject(self, status: int, message: str) -> None:
        """Answer the client now with Tyk's error body; nothing after this hook runs."""
        raise Reject(status, message)

    def fire(self, name: str, fields: Mapping[str, Any] | None = None) -> None:
        """Fire a custom event: `fields` reach templates as `.Meta.<Name>` (`Message` as `.Meta.Message`)."""
        if not is_custom(name):
            # A hook must not pass itself off as the gateway (a fake QuotaExceeded, say).
            raise ValueError(f"{name!r} is one of the gateway's own events or not a name; pick another")
        self._ctx.fire(name, custom_meta(fields or {}))


Hook = tuple[str, Callable[..., Any], bool, float]  # (name, function, is async, timeout)


class _Stage:
    stage: ClassVar[str]
    name: ClassVar[str]

    def __init__(self, spec: APISpec, config: Config) -> None:
        self.api_id = spec.api_id
        self._fail_log = Throttle(10.0)
        found: list[Hook] = []
        modules: dict[str, Any] = {}  # one module per file per API, shared by its stages' hooks
        for hook in spec.hooks:
            if hook.stage != self.stage:
                continue
            path = usercode.find(hook.path, config.middleware_path, config.config_dir, hook.where)
            if str(path) not in modules:
                modules[str(path)] = usercode.load_module(path, spec.api_id, hook.where)
            fn = usercode.function(modules[str(path)], hook.name, hook.where)
            found.append((hook.name, fn, usercode.is_async(fn), hook.timeout))
        self.hooks = tuple(found)

    @classmethod
    def enabled(cls, spec: APISpec, config: Config) -> bool:
        return any(hook.stage == cls.stage for hook in spec.hooks)

    async def on_request(self, ctx: RequestContext) -> None:
        request, api = HookRequest(ctx), HookAPI(ctx)
        for name, fn, is_async, timeout in self.hooks:
            try:
                if is_async:
                    await asyncio.wait_for(fn(request, api), timeout)
                else:  # off the loop: a slow sync hook must not stall every other request
                    await asyncio.wait_for(asyncio.to_thread(functools.partial(fn, request, api)), timeout)
            except Reject:
                raise
            except Exception as exc:
                cause = "ran past its time limit" if isinstance(exc, TimeoutError) else repr(exc)
                if self._fail_log.allow(f"{self.api_id}:{name}"):
                    log.error("hook %r (%s) for api %r failed: %s", name, self.stage, self.api_id, cause)
                raise Reject(500, UPSTREAM_PROBLEM) from exc


class PreHooks(_Stage):
    stage = "pre"
    name = "hooks_pre"


class PostAuthHooks(_Stage):
    stage = "post_key_auth"
    name = "hooks_post_key_auth"


class PostHooks(_Stage):
    stage = "post"
    name = "hooks_post"
