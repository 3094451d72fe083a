"""Property-based fuzzing (hypothesis) of every parser that reads what users and clients write: API
definitions (Classic and OAS, random and mutated real ones), sessions, policies, Go templates (compiled
and rendered), YAML/JSON definition files, HMAC credentials, durations and HTTP dates. Each either
succeeds or raises its named error: nothing else escapes. Seeded and bounded, so it runs in seconds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.apidef.common import parse_duration
from gateway.apidef.loader import parse
from gateway.chain import http_date, signature
from gateway.errors import ConfigError, HandlerError
from gateway.identity.policies import Policy
from gateway.identity.session import Session
from gateway.manifests import documents
from gateway.templating.template import from_string
from tests.e2e.conftest import seed_classic, seed_oas

BOUNDED = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
SESSION_KEYS = [
    "rate",
    "per",
    "quota_max",
    "quota_renewal_rate",
    "quota_remaining",
    "expires",
    "access_rights",
    "apply_policies",
    "org_id",
    "allowance",
    "throttle_interval",
    "smoothing",
    "meta_data",
    "tags",
    "basic_auth_data",
    "jwt_data",
    "hmac_enabled",
    "monitor",
    "is_inactive",
    "alias",
    "last_updated",
]
POLICY_KEYS = [
    "id",
    "name",
    "org_id",
    "rate",
    "per",
    "quota_max",
    "quota_renewal_rate",
    "access_rights",
    "partitions",
    "active",
    "is_inactive",
    "tags",
    "meta_data",
    "key_expires_in",
    "smoothing",
    "hmac_enabled",
    "throttle_interval",
    "max_query_depth",
]


def known_keys(names: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(names) | st.text(max_size=8), JSON, max_size=8)


def nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    children = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, child in children:
        found += nodes(child, (*path, key))
    return found


REAL = [
    seed_classic("http://127.0.0.1:9/", "http://127.0.0.1:8/"),
    seed_oas("http://127.0.0.1:9/", "http://127.0.0.1:8/"),
]


@BOUNDED
@given(st.data())
def test_mutated_real_definitions_load_or_are_refused_by_name(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(REAL)))
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(nodes(doc)[1:]))
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = data.draw(JSON)
    try:
        parse(doc, "fuzz.json")
    except ConfigError as exc:
        assert exc.where == "fuzz.json" and exc.reason


@BOUNDED
@given(JSON | known_keys(["api_id", "proxy", "openapi", "x-tyk-api-gateway", "info", "paths", "use_keyless"]))
def test_random_definitions_load_or_are_refused_by_name(doc: Any) -> None:
    try:
        parse(doc, "fuzz.json")
    except ConfigError as exc:
        assert exc.reason


@BOUNDED
@given(JSON | known_keys(SESSION_KEYS))
def test_sessions_parse_or_name_the_field(raw: Any) -> None:
    try:
        session = Session.from_json(raw, "body")
    except ConfigError as exc:
        assert exc.where == "body" and exc.reason
    else:
        json.dumps(session.to_json(), allow_nan=False)  # what is stored can be written back


@BOUNDED
@given(JSON | known_keys(POLICY_KEYS))
def test_policies_parse_or_name_the_field(raw: Any) -> None:
    try:
        Policy.from_json(raw, "policy.json")
    except ConfigError as exc:
        assert exc.where == "policy.json" and exc.reason


TEMPLATE_PARTS = st.sampled_from(
    [
        "{{",
        "}}",
        ".",
        "Meta",
        ".Meta.Message",
        "range",
        "end",
        "if",
        "else",
        "with",
        " ",
        "|",
        "$x",
        ":=",
        "printf",
        '"',
        "{{.}}",
        "{{ Meta.Key }}",
        "{%",
        "%}",
        "(",
        ")",
        "\n",
        "js",
        "html",
        "index",
        "len",
    ]
)


@BOUNDED
@given(st.lists(TEMPLATE_PARTS | st.text(max_size=6), max_size=12).map("".join), JSON, st.booleans())
def test_templates_compile_and_render_or_fail_by_name(source: str, data: Any, json_escape: bool) -> None:
    try:
        template = from_string(source, name="fuzz.json", json_escape=json_escape)
    except ConfigError as exc:
        assert exc.where == "fuzz.json" and "template syntax error" in exc.reason
        return
    try:
        template.render({"Meta": data, "Type": "Fuzz"})
    except HandlerError as exc:
        assert "fuzz.json" in str(exc)


@BOUNDED
@given(st.text(max_size=200), st.sampled_from(["api.yaml", "api.json"]))
def test_definition_files_read_or_are_refused_by_name(
    tmp_path_factory: pytest.TempPathFactory, text: str, name: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_text(text, encoding="utf-8")
    try:
        documents(str(path))
    except ConfigError as exc:
        assert Path(exc.where).name == name and exc.reason


@BOUNDED
@given(
    st.text(max_size=120)
    | st.lists(
        st.sampled_from(
            [
                'keyId="k"',
                "algorithm=",
                '"hmac-sha256"',
                ",",
                "=",
                "headers",
                '"(request-target) date"',
                "signature",
                '"a\\x"',
                "Signature ",
                "`raw`",
                "'c'",
                "/*",
                "9",
            ]
        ),
        max_size=10,
    ).map("".join)
)
def test_hmac_credentials_parse_or_are_malformed(text: str) -> None:
    try:
        fields = signature.parse(text)
    except signature.Malformed:
        return
    assert isinstance(fields.headers, tuple)


@BOUNDED
@given(st.text(max_size=30), st.integers(0, 2**62), st.floats(-1e6, 1e6))
def test_durations_and_http_dates_never_raise(text: str, now_ns: int, skew: float) -> None:
    assert parse_duration(text) is None or isinstance(parse_duration(text), float)
    assert http_date.within_skew(text, now_ns, skew) in (True, False)
