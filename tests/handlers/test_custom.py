"""Python event handlers: real files in a middleware folder, imported per API, called with Tyk's envelope
and context, sync or async; raising and overrunning handlers become HandlerErrors; bad input is a
ConfigError naming the handler and the cause."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.errors import ConfigError, HandlerError
from gateway.events.catalog import Event, EventMessage, QuotaExceededMeta
from gateway.handlers.base import Handler, HandlerDeps, HandlerScope
from gateway.handlers.registry import REGISTRY
from gateway.store.memory import MemoryStore

HANDLERS = """
import asyncio, json, time
from pathlib import Path

OUT = Path(__file__).parent / "out"
COUNT = 0

def on_event(event, context):
    global COUNT
    COUNT += 1
    record = json.dumps({"event": event, "context": context})
    (OUT / f"sync-{context['api_id']}-{COUNT}.json").write_text(record)

async def on_event_async(event, context):
    await asyncio.sleep(0)
    (OUT / "async.json").write_text(json.dumps(event["Meta"]))

def broken(event, context):
    raise ValueError("no luck")

def stuck(event, context):
    time.sleep(2)

async def stuck_async(event, context):
    await asyncio.sleep(60)

NOT_A_FUNCTION = 3
"""


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[HandlerDeps]:
    middleware = tmp_path / "middleware"
    (middleware / "out").mkdir(parents=True)
    (middleware / "handlers.py").write_text(HANDLERS)
    (middleware / "bad.py").write_text("def on_event(event, context)\n    pass\n")
    store = MemoryStore(str(tmp_path / "data"))
    async with httpx.AsyncClient() as http:
        yield HandlerDeps(store, http, str(tmp_path), str(middleware), str(tmp_path))
    await store.close()


def build(
    deps: HandlerDeps, meta: dict[str, Any], kind: str = "eh_dynamic_handler", api: str = "a1"
) -> Handler:
    return REGISTRY[kind].factory(meta, HandlerScope(api, "org1", f"apps/{api}.json $.event_handlers"), deps)


def message(api: str = "a1") -> EventMessage:
    meta = QuotaExceededMeta("Key Quota Limit Exceeded", path="/p", origin="127.0.0.1", key="k1")
    return EventMessage(Event.QuotaExceeded, meta, api, "org1")


async def test_sync_handler_gets_the_envelope_and_context(deps: HandlerDeps) -> None:
    await build(deps, {"name": "on_event", "path": "handlers.py"}).handle(message())
    written = json.loads((Path(deps.middleware_dir) / "out" / "sync-a1-1.json").read_text())
    assert written["event"]["Type"] == "QuotaExceeded"
    assert written["event"]["Meta"]["Key"] == "k1" and written["event"]["Meta"]["Path"] == "/p"
    assert written["context"] == {"api_id": "a1", "org_id": "org1", "APIID": "a1", "OrgID": "org1"}


async def test_each_api_gets_its_own_module(deps: HandlerDeps) -> None:
    one = build(deps, {"name": "on_event", "path": "handlers.py"}, api="a1")
    two = build(deps, {"name": "on_event", "path": "handlers.py"}, api="a2")
    await one.handle(message("a1"))
    await one.handle(message("a1"))
    await two.handle(message("a2"))
    out = Path(deps.middleware_dir) / "out"
    # The global counter is per API: a2's first call is its 1, not 3.
    assert sorted(p.name for p in out.iterdir()) == ["sync-a1-1.json", "sync-a1-2.json", "sync-a2-1.json"]


async def test_async_handler_and_cp_dynamic_handler(deps: HandlerDeps) -> None:
    await build(deps, {"name": "on_event_async", "path": "handlers.py"}, "cp_dynamic_handler").handle(
        message()
    )
    assert json.loads((Path(deps.middleware_dir) / "out" / "async.json").read_text())["Key"] == "k1"


async def test_raising_and_overrunning_handlers_are_handler_errors(deps: HandlerDeps) -> None:
    with pytest.raises(HandlerError, match="raised ValueError: no luck"):
        await build(deps, {"name": "broken", "path": "handlers.py"}).handle(message())
    for name in ("stuck", "stuck_async"):
        handler = build(deps, {"name": name, "path": "handlers.py", "timeout": 0.2})
        with pytest.raises(HandlerError, match=r"ran past its 0\.2 s limit"):
            await asyncio.wait_for(handler.handle(message()), 5)


async def test_a_stuck_handler_holds_two_threads_and_never_starves_the_others(deps: HandlerDeps) -> None:
    stuck = build(deps, {"name": "stuck", "path": "handlers.py", "timeout": 0.1})
    for _ in range(2):
        with pytest.raises(HandlerError, match="ran past"):
            await stuck.handle(message())
    # Both threads are still asleep: the third call is refused at once instead of queueing.
    with pytest.raises(HandlerError, match="skipped: 2 earlier calls are still running"):
        await asyncio.wait_for(stuck.handle(message()), 0.05)
    await build(deps, {"name": "on_event", "path": "handlers.py", "timeout": 0.5}).handle(message())
    assert (Path(deps.middleware_dir) / "out" / "sync-a1-1.json").exists()


@pytest.mark.parametrize(
    ("meta", "cause"),
    [
        ({"name": "on_event", "path": "missing.py"}, "file not found: 'missing.py'"),
        ({"name": "absent", "path": "handlers.py"}, "defines no 'absent'"),
        ({"name": "NOT_A_FUNCTION", "path": "handlers.py"}, "is not a function"),
        ({"name": "on_event", "path": "bad.py"}, "bad.py:1: syntax error"),
        ({"name": "on_event", "path": "handlers.py", "timeout": 0}, '"timeout": expected seconds'),
        ({"name": "", "path": "handlers.py"}, '"name"'),
        ({"name": "h", "path": "h.js"}, "file not found: 'h.js'"),  # not .py: a Tyk JS handler
    ],
)
def test_bad_input_names_the_handler_and_the_cause(
    deps: HandlerDeps, meta: dict[str, Any], cause: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build(deps, meta)
    assert cause in str(caught.value) and "apps/a1.json $.event_handlers" in str(caught.value)
