"""Tyk's JavaScript event handlers (Classic `eh_dynamic_handler`, OAS `custom`), run unchanged.

At load the file is evaluated in a QuickJS context with a time limit, to report a file that does not
compile or does not define the named handler. Each call then runs in its own short-lived process (see
jsvm_child.py): a fresh VM per API and call, so no two APIs' handlers share a name, with a memory limit
and a time limit enforced by killing the process. It never runs user JavaScript in the gateway's process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import quickjs

from gateway import usercode
from gateway.errors import ConfigError, HandlerError
from gateway.events.catalog import EventMessage
from gateway.handlers import jsvm_child
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.log import get_logger

log = get_logger("handlers.js")

CHILD = Path(jsvm_child.__file__)
IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")
DEFAULT_TIMEOUT, MAX_TIMEOUT = 5.0, 300.0
DEFAULT_MEMORY_MB, MAX_MEMORY_MB = 64, 1024
LOAD_TIME_LIMIT = 1.0  # seconds the file's top level may run when it is checked at load
# JS calls in flight at once, across the gateway: each is a process.
SLOTS = asyncio.Semaphore(4)

KeyRPC = Callable[[str, list[str]], Awaitable[Any]]


class JSHandler:
    kind = "eh_dynamic_handler"

    def __init__(
        self, name: str, path: Path, timeout: float, memory: int, scope: HandlerScope, rpc: KeyRPC
    ) -> None:
        self.name = name
        self._path = path
        self._timeout = timeout
        self._memory = memory
        self._context = {"APIID": scope.api_id, "OrgID": scope.org_id}
        self._rpc = rpc

    @classmethod
    def from_meta(cls, meta: dict[str, Any], scope: HandlerScope, deps: HandlerDeps) -> JSHandler:
        where = scope.where
        name = meta.get("name")
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            raise ConfigError(where, f'"name": expected the JavaScript variable of the handler, got {name!r}')
        path = usercode.find(meta.get("path"), deps.middleware_dir, deps.config_dir, where)
        timeout = _number(meta, "timeout", DEFAULT_TIMEOUT, MAX_TIMEOUT, where)
        memory = _number(meta, "memory_mb", DEFAULT_MEMORY_MB, MAX_MEMORY_MB, where)
        check(path, name, where)
        rpc = deps.key_rpc if deps.key_rpc is not None else _no_store
        return cls(name, path, timeout, int(memory * 1024 * 1024), scope, rpc)

    async def handle(self, msg: EventMessage) -> None:
        call = json.dumps({"event": msg.json_envelope(), "context": self._context}) + "\n"
        async with SLOTS:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                str(CHILD),
                str(self._path),
                self.name,
                str(self._memory),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                assert proc.stdin is not None and proc.stdout is not None
                proc.stdin.write(call.encode())
                await asyncio.wait_for(self._converse(proc.stdin, proc.stdout), self._timeout)
            except TimeoutError:
                raise HandlerError(
                    f"js handler {self.name!r} ran past its {self._timeout:g} s limit"
                ) from None
            finally:
                if proc.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                await proc.wait()

    async def _converse(self, stdin: asyncio.StreamWriter, stdout: asyncio.StreamReader) -> None:
        while line := await stdout.readline():
            message = json.loads(line)
            if message["op"] == "log":
                log.info("js %s (api %r): %s", self.name, self._context["APIID"], message["msg"])
            elif message["op"] == "rpc":
                result = await self._rpc(message["fn"], message["args"])
                stdin.write((json.dumps(result) + "\n").encode())
            elif message["op"] == "done":
                if message["error"]:
                    raise HandlerError(f"js handler {self.name!r}: {message['error']}")
                return
        raise HandlerError(f"js handler {self.name!r}: its process ended early (out of memory?)")


def check(path: Path, name: str, where: str) -> None:
    """Evaluate the file once, time-limited and without host calls: it must compile and define `name`
    as a TykJS event handler. ConfigError naming the file and the cause otherwise."""
    ctx = quickjs.Context()
    ctx.set_time_limit(LOAD_TIME_LIMIT)
    ctx.set_memory_limit(DEFAULT_MEMORY_MB * 1024 * 1024)
    try:
        ctx.eval(jsvm_child.BOOTSTRAP + jsvm_child.STUBS)
        ctx.eval(path.read_text(encoding="utf-8"))
        kind = ctx.eval(f"typeof {name} === 'undefined' ? 'missing' : typeof {name}.DoProcessEvent")
    except quickjs.JSException as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ConfigError(where, f"{path}: JavaScript error: {first}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(where, f"{path}: cannot read: {exc}") from None
    if kind != "function":
        raise ConfigError(where, f"{path}: defines no TykJS event handler named {name!r}")


def _number(meta: dict[str, Any], key: str, default: float, high: float, where: str) -> float:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise ConfigError(where, f'"{key}": expected a number above 0 and at most {high:g}, got {value!r}')
    return float(value)


async def _no_store(fn: str, args: list[str]) -> Any:
    return {"status": "error", "message": f"{fn} is not available here"}
