"""The functions Go templates call: lookups, comparisons, escapers and Tyk's RFC 3339 helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.events.catalog import go_timestamp
from gateway.templating.go.funcs import (
    ARITY,
    FUNCTIONS,
    as_rfc3339,
    as_rfc3339_from_string,
    go_and,
    go_eq,
    go_field,
    go_html,
    go_index,
    go_js,
    go_len,
    go_ne,
    go_or,
    go_range,
    go_slice,
    go_urlquery,
)


@dataclass
class Info:
    Name: str
    _secret: str = "hidden"


def test_field_walks_maps_and_attributes_and_misses_softly() -> None:
    data = {"Meta": {"Info": Info("n"), "Map": {"host_name": "h"}}}
    assert go_field(data, "Meta", "Info", "Name") == "n"
    assert go_field(data, "Meta", "Map", "host_name") == "h"
    assert go_field(data, "Meta", "Info", "_secret") is None
    assert go_field(data, "Meta", "Nope", "Deeper") is None
    assert go_field(data, "Meta", "Info", "Name", "Deeper") is None


def test_range_visits_like_go() -> None:
    assert go_range({"b": 1, "a": 2}) == [("a", 2), ("b", 1)]
    assert go_range(["x", "y"]) == [(0, "x"), (1, "y")]
    assert go_range(2) == [(0, 0), (1, 1)]
    for nothing in (None, "str", True, 1.5, object()):
        assert list(go_range(nothing)) == []


def test_comparisons() -> None:
    assert go_eq("a", "b", "c", "a") and not go_eq("a", "b")
    assert not go_eq(True, 1) and not go_eq(1, "1") and go_eq(1, 1.0)
    assert go_ne(None, "x")
    lt = FUNCTIONS["lt"]
    assert lt(1, 2) and not lt("a", 1) and not lt(None, 1) and not lt(True, 2)


def test_and_or_return_operands() -> None:
    assert go_and(1, "x", 0, "y") == 0 and go_and(1, "x") == "x"
    assert go_or(0, "", "z", 1) == "z" and go_or(0, "") == ""


def test_len_index_slice() -> None:
    assert go_len("é") == 2 and go_len([1]) == 1 and go_len(None) == 0 and go_len(5) == 0
    assert go_index({"a": [1, {"b": 2}]}, "a", 1, "b") == 2
    assert go_index([1], 3) is None and go_index([1], -1) is None and go_index(None, "a") is None
    assert go_index("AB", 1) == 66  # a byte, as in Go
    assert go_slice("abcdef", 1, 3) == "bc" and go_slice([1, 2, 3], 1) == [2, 3] and go_slice("ab") == "ab"
    assert go_slice(5, 1) is None and go_slice("ab", 3) is None and go_slice("ab", 1, 0) is None


def test_escapers_match_go() -> None:
    assert go_html("<a href=\"x\">'&'\0</a>") == "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;\ufffd&lt;/a&gt;"
    assert go_html(1, 2) == "1 2"
    assert (
        go_js("a'b\"c\\d<e>f&g=h\ni\u2028")
        == "a\\'b\\\"c\\\\d\\u003Ce\\u003Ef\\u0026g\\u003Dh\\u000Ai\\u2028"
    )
    assert go_urlquery("a b+c&d=é/~_.-") == "a+b%2Bc%26d%3D%C3%A9%2F~_.-"


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2026, 9, 1, 8, 0, 0, 999, tzinfo=UTC), "2026-09-01T08:00:00Z"),
        (
            datetime(2026, 9, 1, 8, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            "2026-09-01T08:00:00+05:30",
        ),
        (datetime(2026, 9, 1, 8, 0, 0, tzinfo=timezone(-timedelta(hours=7))), "2026-09-01T08:00:00-07:00"),
        (datetime(2026, 9, 1, 8, 0, 0), "2026-09-01T08:00:00Z"),
    ],
)
def test_as_rfc3339(moment: datetime, text: str) -> None:
    assert as_rfc3339(moment) == text
    assert as_rfc3339_from_string(moment) == text


def test_as_rfc3339_from_string_reads_the_timestamp_the_bus_writes() -> None:
    moment = datetime(2026, 8, 21, 12, 39, 47, 123456, tzinfo=UTC)
    parsed = datetime.fromisoformat(as_rfc3339_from_string(go_timestamp(moment)))
    assert parsed == moment.replace(microsecond=0)
    assert as_rfc3339_from_string("2026-08-21 12:39:47.123456789 -0700 MST") == "2026-08-21T12:39:47-07:00"
    assert as_rfc3339_from_string("2026-08-21 12:39:47 +0000 UTC") == "2026-08-21T12:39:47Z"
    assert as_rfc3339("2026-08-21 12:39:47 +0000 UTC") == "2026-08-21T12:39:47Z"
    assert as_rfc3339("2026-08-21T12:39:47+02:00") == "2026-08-21T12:39:47+02:00"
    assert as_rfc3339("soon") == "soon" and as_rfc3339(None) == ""


@pytest.mark.parametrize(
    "text",
    [
        "not a time",
        "2026-08-21 12:39:47 +0000 UTC m=+0.001",
        "2026-13-21 12:39:47 +0000 UTC",
        "2026-08-21",
        "",
    ],
)
def test_as_rfc3339_from_string_returns_what_it_cannot_parse(text: str) -> None:
    assert as_rfc3339_from_string(text) == text


def test_arity_follows_go() -> None:
    assert ARITY["eq"] == (2, None) and ARITY["not"] == (1, 1) and ARITY["ne"] == (2, 2)
    assert ARITY["printf"] == (1, None) and ARITY["print"] == (0, None) and ARITY["as_rfc3339"] == (1, 1)
    assert set(ARITY) == set(FUNCTIONS)
