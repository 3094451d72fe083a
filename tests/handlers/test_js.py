"""Tyk JavaScript event handlers, unchanged: real files, the real engine in its own process per call, a
real receiver for TykMakeHttpRequest. Same-named handlers of two APIs stay apart; loops and memory hogs
are cut off; bad files are ConfigErrors naming the handler and the cause."""

from __future__ import annotations

import base64
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
from gateway.testing import WebhookRecorder, serve

# Written as a Tyk user writes it: a global handler object, Tyk's host functions, no imports.
TYK_HANDLER = """
var %(name)s = new TykJS.TykEventHandlers.NewEventHandler({});
%(name)s.NewHandler(function(event, context) {
    log("%(tag)s: " + event.EventType);
    var body = {tag: "%(tag)s", type: event.EventType, key: b64enc(event.EventMetaData.Key),
                api: context.APIID, back: b64dec(b64enc("round trip")), unpadded: rawb64enc("ab")};
    var response = TykMakeHttpRequest(JSON.stringify({
        Method: "POST", Domain: "%(url)s", Resource: "/%(tag)s",
        Headers: {"Content-Type": "application/json"}, Body: JSON.stringify(body)
    }));
    log("answered " + JSON.parse(response).Code);
});
"""


NEW = "var h = new TykJS.TykEventHandlers.NewEventHandler({});"


@pytest.fixture
async def deps(tmp_path: Path) -> AsyncIterator[HandlerDeps]:
    store = MemoryStore(str(tmp_path / "data"))
    (tmp_path / "middleware").mkdir()
    async with httpx.AsyncClient() as http:
        yield HandlerDeps(store, http, str(tmp_path), str(tmp_path / "middleware"), str(tmp_path))
    await store.close()


def write(deps: HandlerDeps, file: str, text: str) -> None:
    (Path(deps.middleware_dir) / file).write_text(text)


def build(deps: HandlerDeps, meta: dict[str, Any], api: str = "a1") -> Handler:
    return REGISTRY["eh_dynamic_handler"].factory(
        meta, HandlerScope(api, "org1", f"apps/{api}.json $.handler"), deps
    )


def message(api: str = "a1") -> EventMessage:
    meta = QuotaExceededMeta("Key Quota Limit Exceeded", path="/p", origin="127.0.0.1", key="k1")
    return EventMessage(Event.QuotaExceeded, meta, api, "org1")


async def test_unchanged_tyk_handlers_of_two_apis_keep_their_own_namespace(deps: HandlerDeps) -> None:
    recorder = WebhookRecorder()
    async with serve(recorder) as served:
        write(deps, "one.js", TYK_HANDLER % {"name": "myHandler", "tag": "one", "url": served.url})
        write(deps, "two.js", TYK_HANDLER % {"name": "myHandler", "tag": "two", "url": served.url})
        one = build(deps, {"name": "myHandler", "path": "one.js"}, "a1")
        two = build(deps, {"name": "myHandler", "path": "two.js"}, "a2")
        await one.handle(message("a1"))
        await two.handle(message("a2"))
    bodies = {d.path: d.json() for d in recorder.deliveries}
    assert bodies["/one"] == {
        "tag": "one",
        "type": "QuotaExceeded",
        "key": base64.b64encode(b"k1").decode(),
        "api": "a1",
        "back": "round trip",
        "unpadded": "YWI",
    }
    assert bodies["/two"]["tag"] == "two" and bodies["/two"]["api"] == "a2"


@pytest.mark.parametrize(
    ("script", "meta", "cause"),
    [
        (
            NEW + "h.NewHandler(function(e, c) { while (true) {} });",
            {"timeout": 0.5},
            "ran past its 0.5 s limit",
        ),
        (
            NEW
            + "h.NewHandler(function(e, c) { var a = []; while (true) { a.push(new Array(1e5).fill(1)) } });",
            {"memory_mb": 16},
            "out of memory",
        ),
        (
            NEW + "h.NewHandler(function(e, c) { throw new Error('bug'); });",
            {},
            "Error: bug",
        ),
    ],
)
async def test_runaway_and_failing_handlers_are_cut_off(
    deps: HandlerDeps, script: str, meta: dict[str, Any], cause: str
) -> None:
    write(deps, "h.js", script)
    with pytest.raises(HandlerError, match=cause):
        await build(deps, {"name": "h", "path": "h.js", **meta}).handle(message())


@pytest.mark.parametrize(
    ("script", "meta", "cause"),
    [
        ("var h = ;", {"name": "h", "path": "h.js"}, "JavaScript error: SyntaxError"),
        ("var other = 1;", {"name": "h", "path": "h.js"}, "defines no TykJS event handler named 'h'"),
        ("var h = {};", {"name": "h", "path": "h.js"}, "defines no TykJS event handler named 'h'"),
        ("while (true) {}", {"name": "h", "path": "h.js"}, "JavaScript error: InternalError: interrupted"),
        ("", {"name": "h", "path": "missing.js"}, "file not found: 'missing.js'"),
        ("", {"name": "h; evil()", "path": "h.js"}, '"name"'),
        ("", {"name": "h", "path": "h.js", "timeout": 0}, '"timeout"'),
    ],
)
def test_bad_files_are_reported_at_load(
    deps: HandlerDeps, script: str, meta: dict[str, Any], cause: str
) -> None:
    write(deps, "h.js", script)
    with pytest.raises(ConfigError) as caught:
        build(deps, meta)
    assert cause in str(caught.value) and "apps/a1.json $.handler" in str(caught.value)


async def test_key_functions_reach_the_gateway(deps: HandlerDeps, tmp_path: Path) -> None:
    calls: list[tuple[str, list[str]]] = []

    async def rpc(fn: str, args: list[str]) -> Any:
        calls.append((fn, args))
        return json.dumps({"org_id": "org1", "quota_max": 5}) if fn == "TykGetKeyData" else None

    write(
        deps,
        "k.js",
        """
var k = new TykJS.TykEventHandlers.NewEventHandler({});
k.NewHandler(function(event, context) {
    var session = JSON.parse(TykGetKeyData(event.EventMetaData.Key, context.APIID));
    session.quota_max = session.quota_max + 1;
    TykSetKeyData(event.EventMetaData.Key, JSON.stringify(session), "1");
});
""",
    )
    import dataclasses

    handler = build(dataclasses.replace(deps, key_rpc=rpc), {"name": "k", "path": "k.js"})
    await handler.handle(message())
    assert calls == [
        ("TykGetKeyData", ["k1", "a1"]),
        ("TykSetKeyData", ["k1", json.dumps({"org_id": "org1", "quota_max": 6}, separators=(",", ":")), "1"]),
    ]
