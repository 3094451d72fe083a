"""The REST API's OpenAPI document (gateway/admin/openapi.yaml) holds for the live gateway.

A real gateway process on 127.0.0.1 (embedded store; a keyless Classic API, a keyless OAS API and a keyed
API whose AuthFailure webhook has nobody to answer, none with an upstream; policies written to a folder)
serves the document at /tyk/openapi.json. schemathesis runs every operation of it against that process:
no 5xx but Tyk's documented ones, every status, content type and body as documented. Plain tests prove the
served document is the repository file and keep it and the routes of `build_admin` the same operations.
"""

from __future__ import annotations

import importlib.resources
import json
import re
import signal
import subprocess
import sys
import time
import typing
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Match, Route

from gateway.admin import build_admin
from gateway.config.model import Config
from gateway.testing import unused_port

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "gateway" / "admin" / "openapi.yaml"
SECRET = "openapi-test-secret"
HEADERS = {"x-tyk-authorization": SECRET}
MAX_EXAMPLES = 20  # per operation, in the fuzzing phase; the examples and coverage phases add their own
SEED = 1301

# The only 5xx answers allowed, where the operation declares them: Tyk's, as its swagger.yml documents
# them, and our 501 for Tyk's operations this gateway does not implement.
TYKS_500 = {
    "Delete failed",
    "Failed to create key, ensure security settings are correct.",
    "Unmarshalling failed",
    "Unable to access policy storage.",
    "Failed to create file!",
    "file object creation failed, write error",
}
NOT_SUPPORTED = " is not supported by this gateway"

KEYLESS = {
    "api_id": "keyless",
    "name": "Keyless",
    "org_id": "demo",
    "use_keyless": True,
    "proxy": {"listen_path": "/keyless/", "target_url": "http://127.0.0.1:1/", "strip_listen_path": True},
}
OAS = {
    "openapi": "3.0.3",
    "info": {"title": "Pets", "version": "1.0"},
    "paths": {},
    "x-tyk-api-gateway": {
        "info": {"id": "pets", "name": "Pets", "state": {"active": True}},
        "upstream": {"url": "http://127.0.0.1:1/"},
        "server": {"listenPath": {"value": "/pets/", "strip": True}},
    },
}


def keyed(hook: str) -> dict[str, Any]:
    """An API whose refused requests fire AuthFailure to a webhook at `hook`: the delivery log's source."""
    handler = {"handler_name": "eh_web_hook_handler", "handler_meta": {"method": "POST", "target_path": hook}}
    return {
        "api_id": "keyed",
        "name": "Keyed",
        "org_id": "demo",
        "auth": {"auth_header_name": "Authorization"},
        "proxy": {"listen_path": "/keyed/", "target_url": "http://127.0.0.1:1/", "strip_listen_path": True},
        "event_handlers": {"events": {"AuthFailure": [handler]}},
    }


def wait_for(ready: typing.Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """Poll `ready` for up to 30 s, pausing on the process itself, so that an early exit shows at once."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        try:
            proc.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"gateway exited early: {log.read_text()}")
    raise AssertionError(f"{what} within 30 s: {log.read_text()}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A gateway process on 127.0.0.1 that has made one webhook attempt; its base URL."""
    root = tmp_path_factory.mktemp("openapi")
    (root / "apps").mkdir()
    (root / "apps" / "keyless.json").write_text(json.dumps(KEYLESS))
    (root / "apps" / "pets.json").write_text(json.dumps(OAS))
    (root / "apps" / "keyed.json").write_text(json.dumps(keyed(f"http://127.0.0.1:{unused_port()}/hook")))
    port = unused_port()
    conf = {
        "listen_address": "127.0.0.1",
        "listen_port": port,
        "secret": SECRET,
        "app_path": "apps",
        "policies": {"policy_source": "file", "policy_path": "policies"},
        "template_path": str(importlib.resources.files("gateway") / "templates"),
        "events": {"retry_max_attempts": 1},
    }
    (root / "tyk.conf").write_text(json.dumps(conf))
    log = root / "gateway.log"
    with log.open("wb") as out:  # a file, not a pipe: thousands of calls log more than a pipe holds
        proc = subprocess.Popen(
            [sys.executable, "-m", "gateway", "--conf", str(root / "tyk.conf")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def delivered() -> bool:
        return admin(base, "GET", "/tyk/webhooks/deliveries").json()["count"] > 0

    try:
        wait_for(lambda: httpx.get(f"{base}/hello", timeout=1).status_code == 200, proc, log, "not ready")
        assert httpx.get(f"{base}/keyed/", headers={"Authorization": "nobody"}).status_code == 403
        wait_for(delivered, proc, log, "no webhook attempt")
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def admin(base: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, base + path, headers=HEADERS, timeout=10, **kwargs)


# -- schemathesis over every operation --------------------------------------------------------------


@schemathesis.check
def only_tyks_server_errors(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
) -> None:
    """A 5xx only where the operation declares it, with one of Tyk's messages; or our 501 naming what is
    not supported (also for a method the operation lacks: `/tyk/oauth/*` is 501 for every method)."""
    if response.status_code < 500:
        return
    try:
        message = json.loads(response.content)["message"]
    except (ValueError, TypeError, KeyError):
        message = None
    operation = case.operation
    own_method = case.method.upper() == operation.method.upper()
    declared = operation.schema.raw_schema["paths"][operation.path][operation.method.lower()]["responses"]
    if response.status_code == 501:
        allowed = isinstance(message, str) and message.endswith(NOT_SUPPORTED)
    else:
        allowed = own_method and (message in TYKS_500 or str(message).startswith("Failed to create key - "))
    assert allowed and (str(response.status_code) in declared or not own_method), (
        f"{response.status_code} {message!r} is not a server error Tyk documents here"
    )


CHECKS = [
    only_tyks_server_errors,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Loaded from the repository file when the module is collected (a test below proves that the gateway
# serves that very file). schemathesis.pytest.from_fixture would load it from the live gateway, but cannot
# run on pytest 9.2: schemathesis 4.32's lazy schemas write `Function._nodeid`, which pytest 9.2 lacks.
schema = schemathesis.openapi.from_path(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "auth": {"openapi": {"api_key": {"api_key": SECRET}}},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {"stateful": {"enabled": False}},
            "analysis": {"constants": {"enabled": False}},
            "request-timeout": 10,
        }
    ),
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_every_operation_answers_as_documented(case: schemathesis.Case, live: str) -> None:
    case.call_and_validate(base_url=live, checks=CHECKS, timeout=10)


# -- the document and the routes ------------------------------------------------------------------


def test_the_served_document_is_the_repository_file_behind_the_secret(live: str) -> None:
    served = admin(live, "GET", "/tyk/openapi.json")
    assert (served.status_code, served.headers["content-type"]) == (200, "application/json")
    assert served.json() == yaml.safe_load(DOCUMENT.read_text())
    assert httpx.get(f"{live}/tyk/openapi.json", timeout=10).status_code == 403


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    methods = ("get", "put", "post", "delete", "patch")
    return [
        (path, method.upper(), op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in methods
    ]


def template(path: str) -> str:
    """A route's or an operation's path, its parameters unnamed and without a trailing slash (an alias)."""
    return re.sub(r"\{\w+(:\w+)?\}", "{}", path).rstrip("/") or "/"


def test_every_route_has_an_operation_and_every_operation_a_route() -> None:
    stub = SimpleNamespace(config=Config(), cert_store=None)  # what routes() read when built
    routes = [r for r in build_admin(typing.cast(Any, stub)).routes if isinstance(r, Route)]
    needed = {
        (template(route.path), method)
        for route in routes
        for method in route.methods or ()
        # Starlette adds HEAD to GET; the health check answers every other method 405 itself.
        if method != "HEAD" and not (route.path == "/hello" and method != "GET")
    }
    covered: set[tuple[str, str]] = set()
    for path, method, _ in operations(yaml.safe_load(DOCUMENT.read_text())):
        # The route that serves the operation is the one Starlette picks for it: order counts.
        scope = {"type": "http", "method": method, "path": re.sub(r"\{\w+\}", "x", path), "root_path": ""}
        route = next((r for r in routes if r.matches(scope)[0] is Match.FULL), None)
        assert route is not None, f"{method} {path} is documented but no route serves it"
        # A `{rest:path}` catch-all (Tyk's /tyk/oauth/...) serves every documented path under it.
        catch_all = route.path.endswith(":path}") and path.startswith(route.path.split("{")[0])
        assert template(route.path) == template(path) or catch_all, f"{method} {path} goes to {route.path}"
        covered.add((template(route.path), method))
    assert needed - covered == set(), "routes without an operation in gateway/admin/openapi.yaml"


def test_every_operation_declares_what_any_call_can_meet() -> None:
    schema.validate()  # against the OpenAPI 3.0 schema
    document = yaml.safe_load(DOCUMENT.read_text())
    ids = [op["operationId"] for _, _, op in operations(document)]
    assert len(ids) == len(set(ids)), "an operationId repeats"
    for path, method, op in operations(document):
        codes = set(op["responses"])
        if path.startswith("/tyk/"):
            assert "403" in codes, f"{method} {path} lacks the secret guard's 403"
        if "{" in path:  # a path holding a control character is 404 before any route sees it
            assert "404" in codes, f"{method} {path} lacks 404"
        assert codes <= {"200", "400", "403", "404", "409", "500", "501"}, (method, path)


# -- odd input that once answered 500 -------------------------------------------------------------


def test_malformed_urls_are_refused_and_never_break_a_reload(live: str) -> None:
    hook = {"id": "odd", "target_path": "http://["}  # urllib raises on it
    refused = admin(live, "POST", "/tyk/webhooks", json=hook)
    assert (refused.status_code, refused.json()["message"]) == (
        400,
        "webhook 'odd': \"target_path\": expected an absolute http(s) URL, got 'http://['",
    )
    odd = {**keyed("http://["), "api_id": "odd-hook", "proxy": {**KEYLESS["proxy"], "listen_path": "/odd/"}}
    assert admin(live, "POST", "/tyk/apis", json=odd).status_code == 200
    assert admin(live, "GET", "/tyk/reload").status_code == 200  # the handler is skipped, logged
    assert admin(live, "GET", "/tyk/apis/odd-hook").status_code == 200
    document = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}
    imported = admin(live, "POST", "/tyk/apis/oas/import", params={"upstreamURL": "http://["}, json=document)
    assert imported.status_code == 400
