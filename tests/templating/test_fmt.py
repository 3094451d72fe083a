"""Go's value printing and printf, as templates see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest

from gateway.templating.go.fmt import go_print, go_printf, go_println, go_str

STAMP = datetime(2026, 8, 21, 12, 39, 47, 123456, tzinfo=UTC)


class Color(StrEnum):
    Red = "red"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (3.0, "3"),
        (0.5, "0.5"),
        (-2.25, "-2.25"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1.5e-5, "1.5e-05"),
        (0.0001, "0.0001"),
        (0.0, "0"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Inf"),
        ("text", "text"),
        (Color.Red, "red"),
        (b"bytes", "bytes"),
        (STAMP, "2026-08-21 12:39:47.123456 +0000 UTC"),
        (datetime(2026, 1, 2, 3, 4, 5), "2026-01-02 03:04:05 +0000 UTC"),
        (
            datetime(2026, 1, 2, 3, 4, 5, 500000, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-02 03:04:05.5 +0200 +0200",
        ),
        ({"b": 2, "a": None, "c": [1, "x"]}, "map[a:<nil> b:2 c:[1 x]]"),
        ([True, 1.5, None], "[true 1.5 <nil>]"),
        ((), "[]"),
    ],
)
def test_go_str(value: Any, text: str) -> None:
    assert go_str(value) == text


def test_print_spaces_only_between_non_strings() -> None:
    assert go_print("a", 1, 2, "b", 3) == "a1 2b3"
    assert go_print() == ""
    assert go_println("a", 1, None) == "a 1 \n"


@pytest.mark.parametrize(
    ("fmt", "args", "text"),
    [
        ("%v|%s|%d", (1.5, "s", 42), "1.5|s|42"),
        ("%q %q", ('a"b\n\x01é', 97), '"a\\"b\\n\\x01é" \'a\''),
        ("%x %X %o %b %c", (255, 255, 8, 5, 65), "ff FF 10 101 A"),
        ("%x", ("hi",), "6869"),
        ("%t %T %T %T", (True, 1, "s", None), "true int string <nil>"),
        (
            "%f %.2f %e %g %.3g",
            (1.5, 3.14159, 1234.5, 1e6, 1234.5),
            "1.500000 3.14 1.234500e+03 1e+06 1.23e+03",
        ),
        (
            "[%5d][%-5d][%05d][%+d][%5s][%-3s][%.2s]",
            (42, 42, -42, 5, "ab", "x", "abc"),
            "[   42][42   ][-0042][+5][   ab][x  ][ab]",
        ),
        ("100%%", (), "100%"),
        ("%d %s", ("x",), "%!d(string=x) %!s(MISSING)"),
        ("%s", (1, "extra"), "%!s(int=1)%!(EXTRA string=extra)"),
        ("%d|%v|%s", (None, None, None), "%!d(<nil>)||"),
        ("%f", (3,), "%!f(int=3)"),
        ("end %", (), "end %!(NOVERB)"),
        ("%v", ({"k": True},), "map[k:true]"),
    ],
)
def test_printf(fmt: str, args: tuple[Any, ...], text: str) -> None:
    assert go_printf(fmt, *args) == text
