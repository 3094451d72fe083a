"""The Classic form of OAS APIs (`GET /tyk/apis`): for every OAS definition the gateway loads (Tyk's
corpus and the project's own), the Classic object parsed back by the Classic parser serves the same API."""

from __future__ import annotations

import base64
import dataclasses
import json
from pathlib import Path

from gateway.apidef import classic, oas
from gateway.apidef.classic_form import HANDLER_NAMES, classic_form, expiration, internal
from gateway.apidef.loader import load_dir
from gateway.apidef.model import APISpec
from tests.apidef.test_basic_auth import basic_oas
from tests.apidef.test_fields import oas_doc
from tests.corpus import corpus
from tests.e2e.conftest import seed_oas

OURS = Path(__file__).resolve().parents[2]
SAME = (
    "api_id",
    "name",
    "org_id",
    "listen_path",
    "target_url",
    "strip_listen_path",
    "domain",
    "active",
    "auth",
    "basic_auth",
    "jwt",
    "hmac",
    "identity",
    "rate_limit",
    "preserve_host_header",
)


def oas_specs() -> list[APISpec]:
    folders = [corpus() / "oas", corpus() / "apps", OURS / "gateway" / "examples" / "apps"]
    found = [s for f in folders if f.is_dir() for s in load_dir(str(f)).specs if s.format == "oas"]
    # The golden pairs share ids, so each OAS twin is parsed on its own.
    golden = sorted((OURS / "tests" / "data" / "apps").glob("*.oas.json"))
    found += [oas.parse(json.loads(f.read_text()), f.name) for f in golden]
    jwt = {"enabled": True, "source": base64.b64encode(b"k").decode(), "header": {"enabled": True}}
    versioning = {
        "enabled": True,
        "name": "v1",
        "default": "v2",
        "location": "header",
        "key": "x-v",
        "versions": [{"name": "v2", "id": "child-2"}],
    }
    made = [
        seed_oas("http://127.0.0.1:9/", "http://127.0.0.1:8/"),
        basic_oas(
            {"header": {"enabled": True}, "cacheTTL": 5}, token=True, baseIdentityProvider="auth_token"
        ),
        oas_doc(
            {
                "info": {"versioning": versioning, "expiration": "2030-01-01 00:00"},
                "upstream": {"rateLimit": {"enabled": True, "rate": 3, "per": "1m"}},
                "server": {"authentication": {"enabled": True, "securitySchemes": {"j": jwt}}},
            },
            components={
                "securitySchemes": {"j": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        ),
    ]
    return found + [oas.parse(doc, f"made-{i}.json") for i, doc in enumerate(made)]


def test_every_loaded_oas_api_reads_back_as_the_same_classic_api() -> None:
    specs = oas_specs()
    assert len(specs) >= 14
    for spec in specs:
        form = classic_form(spec)
        assert form["is_oas"] is True and "info" not in form and "x-tyk-api-gateway" not in form
        back = classic.parse(form, spec.source)
        for name in SAME:
            assert getattr(back, name) == getattr(spec, name), (spec.source, name)
        versioning = dataclasses.replace(back.versioning, versions={}, not_versioned=True, default_version="")
        assert versioning == dataclasses.replace(spec.versioning, versions={}), spec.source
        assert [(h.event, HANDLER_NAMES.get(h.kind, h.kind), h.meta) for h in spec.event_handlers] == [
            (h.event, h.kind, h.meta) for h in back.event_handlers
        ], spec.source


def test_a_classic_api_is_shown_as_written() -> None:
    doc = {"api_id": "a", "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:9"}, "x": 1}
    spec = classic.parse(doc, "a.json")
    assert classic_form(spec) == doc
    assert (internal(spec), expiration(spec)) == (False, "")
    dated = classic.parse({**doc, "expiration": "2030-01-01 00:00"}, "a.json")
    assert expiration(dated) == "2030-01-01 00:00"
