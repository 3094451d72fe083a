"""Python event handlers: Classic `eh_dynamic_handler` with a `.py` path, `cp_dynamic_handler`, and OAS
`custom` with a `.py` path. The function gets Tyk's event envelope and a context, and may be async.

The file is imported when the API loads, once per API (its own module, so two APIs never share its
globals); every problem is a ConfigError then. A call is cut off at its timeout and never reaches a
request or another handler. Sync functions run on a small dedicated thread pool, never on the loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from gateway import usercode
from gateway.errors import ConfigError, HandlerError
from gateway.events.catalog import EventMessage
from gateway.handlers.base import HandlerDeps, HandlerScope

DEFAULT_TIMEOUT = 5.0
MAX_TIMEOUT = 300.0
# Sync handlers share these threads (made only when needed). Python cannot kill a thread, so a call past
# its timeout keeps its thread until it returns; each handler may hold at most PER_HANDLER threads, so one
# slow or stuck function is skipped rather than starving every other handler of a thread.
THREADS = ThreadPoolExecutor(max_workers=32, thread_name_prefix="user-handler")
PER_HANDLER = 2


class PythonHandler:
    kind = "eh_dynamic_handler"

    def __init__(self, name: str, fn: Callable[..., Any], timeout: float, scope: HandlerScope) -> None:
        self.name = name
        self._fn = fn
        self._async = usercode.is_async(fn)
        self._timeout = timeout
        self._held = 0  # threads running this function, counting calls already timed out
        self._lock = threading.Lock()
        self._context = {
            "api_id": scope.api_id,
            "org_id": scope.org_id,
            "APIID": scope.api_id,  # Tyk's names for the same two values
            "OrgID": scope.org_id,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> PythonHandler:
        where = scope.where
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(where, f'"name": expected the handler function\'s name, got {name!r}')
        # cp_dynamic_handler names only a function: it lives in `<name>.py` unless a path is given.
        path = usercode.find(meta.get("path") or f"{name}.py", deps.middleware_dir, deps.config_dir, where)
        module = usercode.load_module(path, scope.api_id or "tyk.conf", where)
        timeout = meta.get("timeout", DEFAULT_TIMEOUT)
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= MAX_TIMEOUT
        ):
            raise ConfigError(
                where, f'"timeout": expected seconds above 0 and at most {MAX_TIMEOUT:g}, got {timeout!r}'
            )
        return cls(name, usercode.function(module, name, where), float(timeout), scope)

    async def handle(self, msg: EventMessage) -> None:
        event = msg.json_envelope()
        context = dict(self._context)
        try:
            if self._async:
                await asyncio.wait_for(self._fn(event, context), self._timeout)
            else:
                await asyncio.wait_for(asyncio.wrap_future(self._submit(event, context)), self._timeout)
        except TimeoutError:
            raise HandlerError(
                f"python handler {self.name!r} ran past its {self._timeout:g} s limit"
            ) from None
        except HandlerError:
            raise
        except Exception as exc:
            raise HandlerError(f"python handler {self.name!r} raised {type(exc).__name__}: {exc}") from exc

    def _submit(self, event: dict[str, Any], context: dict[str, Any]) -> Future[Any]:
        with self._lock:
            if self._held >= PER_HANDLER:
                raise HandlerError(
                    f"python handler {self.name!r} skipped: {self._held} earlier calls are still running"
                )
            self._held += 1
        future = THREADS.submit(self._fn, event, context)
        future.add_done_callback(self._release)  # when the thread is free, not when the wait gives up
        return future

    def _release(self, _: Future[Any]) -> None:
        with self._lock:
            self._held -= 1
