"""Tyk durations (Go's time.ParseDuration) and the typed reader shared by both formats."""

from __future__ import annotations

import pytest

from gateway.apidef.common import Reader, parse_duration, show, switched_on
from gateway.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10),
        ("1m30s", 90),
        ("1h", 3600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5h", 5400),
        (".5s", 0.5),
        ("1.s", 1),
        ("100us", 1e-4),
        ("100µs", 1e-4),
        ("100μs", 1e-4),
        ("250ns", 2.5e-7),
        ("0", 0),
        ("0s", 0),
        ("+2s", 2),
        ("-1s", -1),
        ("1h1m1s1ms", 3661.001),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10x", "10", "s", "1s2", "1 s", " 1s", "+", ".s", "1.2.3s", "1S", "1d"])
def test_not_go_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_reader_durations_treat_empty_as_zero_and_name_bad_values() -> None:
    r = Reader("f.json")
    assert r.duration({"per": ""}, "per", "$.x") == 0
    assert r.duration({}, "per", "$.x") == 0
    assert r.duration({"per": "1m"}, "per", "$.x") == 60
    for bad, shown in (("1d", '"1d"'), (10, "10"), ("-5s", '"-5s"')):
        with pytest.raises(ConfigError) as info:
            r.duration({"per": bad}, "per", "$.x")
        assert info.value.reason.startswith("$.x.per: ") and shown in info.value.reason


def test_reader_types_are_strict_and_null_is_absent() -> None:
    r = Reader("f.json")
    assert r.flag({"a": None}, "a", "$", default=True) is True
    assert r.number({"a": 2}, "a", "$") == 2.0
    for read, value in ((r.flag, 1), (r.number, True), (r.number, float("nan")), (r.text, 3), (r.obj, [])):
        with pytest.raises(ConfigError):
            read({"a": value}, "a", "$")


def test_switched_on_and_show() -> None:
    assert not any(
        switched_on(v)
        for v in (None, False, 0, 0.0, "", [], {}, {"a": False, "b": []}, [{"path": "/x", "disabled": True}])
    )
    assert all(switched_on(v) for v in (True, 1, "x", [{"path": "/x"}], {"a": {"b": 1}}))
    assert show(2.0) == "2" and show(None) == "null" and len(show("x" * 500)) == 80
