"""The JavaScript side of one Tyk JS event handler call, run as its own process by handlers/js.py.

It evaluates TykJS's bootstrap and the user's file in a fresh QuickJS context with a memory limit,
provides Tyk's host functions, calls `<name>.DoProcessEvent(event, context)` and reports on stdout in
JSON lines (`log`, `rpc`, `done`). The parent enforces the time limit by killing it. It imports nothing
from the gateway, so it starts fast and can be run by file path.
"""

from __future__ import annotations

import base64
import binascii
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import quickjs

# Tyk's event handler object model (TykJS.TykEventHandlers), as scripts written for Tyk expect it, plus
# pure-JS stand-ins of the host functions for the load-time check (where no host call is allowed).
BOOTSTRAP = """
var TykJS = {TykEventHandlers: {}};
TykJS.TykEventHandlers.NewEventHandler = function (settings) { this.Settings = settings; };
TykJS.TykEventHandlers.NewEventHandler.prototype.NewHandler = function (callback) {
  this.callback = callback;
};
TykJS.TykEventHandlers.NewEventHandler.prototype.DoProcessEvent = function (event, context) {
  if (typeof this.callback !== "function") { throw new Error("NewHandler was never called"); }
  return this.callback(event, context);
};
function TykJsResponse(response, sessionMeta) {
  return JSON.stringify({Response: response, SessionMeta: sessionMeta});
}
"""
STUBS = """
function log(m) {} function rawlog(m) {}
function b64enc(s) { return ""; } function b64dec(s) { return ""; }
function rawb64enc(s) { return ""; } function rawb64dec(s) { return ""; }
function TykMakeHttpRequest(r) { return undefined; }
function TykGetKeyData(k, a) { return "{}"; } function TykSetKeyData(k, s, r) {}
"""
HTTP_TIMEOUT = 10.0


def send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def rpc(fn: str, *args: Any) -> Any:
    """Ask the gateway (the parent) to do what needs its store; blocks until it answers."""
    send({"op": "rpc", "fn": fn, "args": [str(a) for a in args]})
    return json.loads(sys.stdin.readline() or "null")


def b64dec(text: Any, alphabet: bytes = b"+/") -> Any:
    raw = str(text).encode()
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=alphabet).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None  # Tyk returns undefined on bad input


def make_request(spec: Any) -> Any:
    """Tyk's TykMakeHttpRequest: {Method, Body, Headers, Domain, Resource, FormData} -> response JSON."""
    try:
        request = json.loads(str(spec))
        body = request.get("Body", "") or ""
        form = request.get("FormData") or {}
        data = urllib.parse.urlencode(form).encode() if form else str(body).encode()
        req = urllib.request.Request(
            str(request.get("Domain", "")) + str(request.get("Resource", "")),
            data=data if data else None,
            headers={str(k): str(v) for k, v in (request.get("Headers") or {}).items()},
            method=str(request.get("Method", "GET")).upper(),
        )
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
                code, text, headers = resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            code, text, headers = exc.code, exc.read().decode("utf-8", "replace"), dict(exc.headers)
    except Exception as exc:
        send({"op": "log", "msg": f"TykMakeHttpRequest failed: {type(exc).__name__}: {exc}"})
        return None
    out = {"Code": code, "Body": text, "Headers": headers}
    return json.dumps({**out, "code": code, "body": text, "headers": headers})


def context(memory: int) -> quickjs.Context:
    ctx = quickjs.Context()
    ctx.set_memory_limit(memory)
    ctx.add_callable("log", lambda m: send({"op": "log", "msg": str(m)}))
    ctx.add_callable("rawlog", lambda m: send({"op": "log", "msg": str(m), "raw": True}))
    ctx.add_callable("b64enc", lambda s: base64.b64encode(str(s).encode()).decode())
    ctx.add_callable("b64dec", b64dec)
    ctx.add_callable("rawb64enc", lambda s: base64.b64encode(str(s).encode()).decode().rstrip("="))
    ctx.add_callable("rawb64dec", b64dec)
    ctx.add_callable("TykMakeHttpRequest", make_request)
    ctx.add_callable("TykGetKeyData", lambda key, api_id: rpc("TykGetKeyData", key, api_id))
    ctx.add_callable("TykSetKeyData", lambda key, session, *rest: rpc("TykSetKeyData", key, session, *rest))
    return ctx


def main() -> None:
    path, name, memory = sys.argv[1], sys.argv[2], int(sys.argv[3])
    call = json.loads(sys.stdin.readline())
    try:
        ctx = context(memory)
        ctx.eval(BOOTSTRAP)
        with open(path, encoding="utf-8") as file:
            ctx.eval(file.read())
        ctx.eval(f"{name}.DoProcessEvent({json.dumps(call['event'])}, {json.dumps(call['context'])});")
    except Exception as exc:
        send({"op": "done", "error": str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)})
        return
    send({"op": "done", "error": ""})


if __name__ == "__main__":
    main()
