"""The `Signature` credential parsed as Tyk parses it, the signing string, the signatures compared as Tyk
compares them, and the Date read with Go's layouts. Expected signatures are the fixed vectors computed
apart from this code (Python's hmac and base64 by hand, TYK-REFERENCE's HMAC notes), never by it."""

from __future__ import annotations

import pytest

from gateway.chain import http_date
from gateway.chain.signature import (
    Fields,
    Malformed,
    date_header,
    encoded_signature,
    matches,
    parse,
    signing_string,
    tokens,
)

SECRET = b"9879879878787878"
DATE = b"Mon, 02 Jan 2006 15:04:05 GMT"
DATE_NS = 1136214245 * 10**9  # 2006-01-02T15:04:05Z
HEADERS = {b"date": DATE, b"x-test-1": b"hello", b"x-test-2": b"world"}
FOUR = ("(request-target)", "date", "x-test-1", "x-test-2")


def test_tyks_own_parsing_example() -> None:
    """Tyk's TestGetFieldValues: no `Signature` prefix, `KeyId` spelled so, the signature kept escaped."""
    key = (
        "eyJvcmciOiI1ZDgzOTczMDk0ZTZhMjAwMDFiZjg0MjUiLCJpZCI6ImE0OGY2MjMzZjlmZTRmMGRhNzhmZjk3MjlhNzM4NGQ0In0="
    )
    raw = f'KeyId="{key}",algorithm="hmac-sha1",signature="j27%2FQtZHmlQuWmnQT%2BxLjHcgPl8%3D"'
    assert parse(raw) == Fields(key, "hmac-sha1", ("date",), "j27%2FQtZHmlQuWmnQT%2BxLjHcgPl8%3D")


@pytest.mark.parametrize(
    ("raw", "fields"),
    [
        (
            'Signature keyId="9876",algorithm="hmac-sha1",signature="s"',
            Fields("9876", "hmac-sha1", ("date",), "s"),
        ),
        # Spaces after commas, keyID spelled otherwise, the lower-case prefix, an unquoted number.
        (
            'signature keyID="98765", algorithm="hmac-sha256", signature="s"',
            Fields("98765", "hmac-sha256", ("date",), "s"),
        ),
        ('Signature keyId=9876,algorithm="x"', Fields("9876", "x", ("date",), "")),
        (
            'Signature headers="(request-target) date x-test-1"',
            Fields("", "", ("(request-target)", "date", "x-test-1"), ""),
        ),
        # headers split on single spaces: empty names stay, and "" gives one empty name (no default).
        ('Signature headers="date  x"', Fields("", "", ("date", "", "x"), "")),
        ('Signature headers=""', Fields("", "", ("",), "")),
        # Go's escapes are applied; single quotes and backquotes stay in the value; the last duplicate wins.
        ('keyId="a\\"b\\u00e9\\x41\\101"', Fields('a"b\xc3\xa9AA', "", ("date",), "")),
        ("keyId='abc'", Fields("'abc'", "", ("date",), "")),
        ("keyId=`abc`", Fields("`abc`", "", ("date",), "")),
        ('keyId="a",keyId="b"', Fields("b", "", ("date",), "")),
        # Only `Signature` and `signature` are stripped: the scanner then reads SIGNATURE as a field name.
        ('SIGNATURE keyId="a"', Fields("", "", ("date",), "a")),
        ('keyId="a" /* a comment */ , algorithm="b"', Fields("a", "b", ("date",), "")),
    ],
)
def test_parsing(raw: str, fields: Fields) -> None:
    assert parse(raw) == fields


@pytest.mark.parametrize(
    "raw",
    [
        'Signature keyId="a",created="123"',  # RFC fields Tyk does not allow
        'Signature keyId="a",realm="x"',
        'Bearer keyId="a"',  # another scheme word is a field name
        'keyId="a\\q"',  # an escape Go refuses
        'keyId="a\\\'"',
        'keyId="\\400"',
        'keyId="\\ud800"',
        'keyId="abc',  # not terminated
        "algorithm=hmac-sha1",  # unquoted, Go's scanner splits it: `-` becomes a field name
    ],
)
def test_malformed(raw: str) -> None:
    with pytest.raises(Malformed):
        parse(raw)


def test_go_tokens() -> None:
    assert list(tokens("a=0x1F.8p-3, b= 1.5e+3 ,c=.5 d_1=`r,aw` // rest")) == [
        *("a", "=", "0x1F.8p-3", ",", "b", "=", "1.5e+3", ",", "c", "=", ".5", "d_1", "=", "`r,aw`"),
    ]


def test_signing_strings() -> None:
    get = HEADERS.get
    assert signing_string("GET", b"/", ("date",), get) == b"date: " + DATE
    assert signing_string("GET", b"/v1/a b", FOUR, get) == (
        b"(request-target): get /v1/a b\ndate: " + DATE + b"\nx-test-1: hello\nx-test-2: world"
    )
    # Names are lower-cased and trimmed; a missing header signs an empty value, no error.
    assert signing_string("POST", b"/", ("X-Test-1", "x-missing"), get) == b"x-test-1: hello\nx-missing: "
    assert signing_string("GET", b"/", ("",), get) == b": "
    # x-aux-date wins over Date, under its own name; with neither, the line is ": ".
    aux = {b"x-aux-date": DATE, b"date": b"other"}.get
    assert signing_string("GET", b"/", ("date",), aux) == b"x-aux-date: " + DATE
    assert date_header(aux) == (b"x-aux-date", DATE)
    assert signing_string("GET", b"/", ("date",), {}.get) == b": "


@pytest.mark.parametrize(
    ("message", "algorithm", "expected"),
    [
        (b"date: " + DATE, "hmac-sha1", "KxFByzIuvzbxSur8qxJvAnvIWv4%3D"),
        (b"date: " + DATE, "hmac-sha256", "tPrU1o9A55e3zDCI%2FnaadOU3DlxXSFGUJyfRe4zaRV0%3D"),
        (
            b"date: " + DATE,
            "hmac-sha512",
            "Jztm%2B8QG0BaFEUXHdwpND4ByKtdxiI59u9zTR66E75aVZ%2FXW%2BzOw%2BzJXaTGKry1hSrmOkDPq8cbqKt%2Fwxyc%2Fxg%3D%3D",
        ),
        (b"x-aux-date: " + DATE, "hmac-sha1", "QTA3Cw%2FZEIpvvJEqp2jgz63TsRM%3D"),
        # Any other algorithm name is HMAC-SHA1 (Tyk's fallback).
        (b"date: " + DATE, "whatever", "KxFByzIuvzbxSur8qxJvAnvIWv4%3D"),
        (b"date: " + DATE, "HMAC-SHA256", "KxFByzIuvzbxSur8qxJvAnvIWv4%3D"),
        (b"date:" + DATE, "hmac-sha1", "CBgkkiDJ8T5CY%2BX5N6vQRctG0FM%3D"),
    ],
)
def test_signatures(message: bytes, algorithm: str, expected: str) -> None:
    assert encoded_signature(message, SECRET, algorithm) == expected


def test_signatures_over_every_header() -> None:
    four = signing_string("GET", b"/", FOUR, HEADERS.get)
    assert encoded_signature(four, SECRET, "hmac-sha1") == "YcMuSuvQD5%2BoI4%2BFqJZOZvQmumw%3D"
    assert (
        encoded_signature(four, SECRET, "hmac-sha256") == "3LGYSBO5BxG%2BIdyLwMt0SC3x9yEowrx7yzAQlY889n8%3D"
    )
    utf8 = {**HEADERS, b"x-test-1": b"hello?", b"x-test-2": "world£".encode()}  # raw bytes, not re-encoded
    signed = encoded_signature(signing_string("GET", b"/", FOUR, utf8.get), SECRET, "hmac-sha1")
    assert signed == "TN8FNu8wsfBVhKqEI5%2BQDt9Mn9g%3D"


def test_comparison_as_tyk_compares() -> None:
    expected = "TN8FNu8wsfBVhKqEI5%2BQDt9Mn9g%3D"
    assert matches(expected, expected)
    assert matches(expected, "TN8FNu8wsfBVhKqEI5%2bQDt9Mn9g%3d")  # lower-case escapes (.NET clients)
    assert not matches(expected, "TN8FNu8wsfBVhKqEI5+QDt9Mn9g=")  # raw base64: Tyk never URL-decodes
    assert not matches(expected, "")
    assert not matches("KxFByzIuvzbxSur8qxJvAnvIWv4%3D", "CBgkkiDJ8T5CY%2BX5N6vQRctG0FM%3D")


@pytest.mark.parametrize(
    ("text", "unix"),
    [
        ("Mon, 02 Jan 2006 15:04:05 GMT", 1136214245),
        ("Mon, 02 Jan 2006 15:04:05 UTC", 1136214245),
        ("tue,   02 JAN 2006 5:04:05 GMT", 1136178245),  # weekday unchecked, spaces runs, a 1-digit hour
        ("Mon, 02 Jan 2006 15:04:05 EST", 1136214245),  # an abbreviation Go does not know: offset 0
        ("Mon, 02 Jan 2006 15:04:05 +01", 1136214245),  # Go reads "+01" as an abbreviation too
        ("Mon, 02 Jan 2006 15:04:05 +0000", 1136214245),
        ("Mon, 02 Jan 2006 15:04:05 GMT+3", 1136214245 - 3 * 3600),
        ("Mon, 02 Jan 2006 15:04:05 +13", 1136214245 - 13 * 3600),  # only the second layout takes +13
        ("Mon, 02 Jan 2006 15:04:05 -14", 1136214245 + 14 * 3600),
        ("Wed, 29 Feb 2000 00:00:00 GMT", 951782400),
    ],
)
def test_dates_go_parses(text: str, unix: int) -> None:
    assert http_date.parse(text) == unix * 10**9


def test_fractional_seconds_are_read() -> None:
    assert http_date.parse("Mon, 02 Jan 2006 15:04:05.25 GMT") == DATE_NS + 250_000_000
    assert http_date.parse("Mon, 02 Jan 2006 15:04:05,123456789999 GMT") == DATE_NS + 123_456_789


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Mon, 02 Jan 2006 15:04:05",  # no zone
        "Mon, 02 Jan 2006 15:04:05 -0700",  # both layouts refuse it ("extra text")
        "Mon, 2 Jan 2006 15:04:05 GMT",  # the day needs two digits
        "Mon, 30 Feb 2006 15:04:05 GMT",
        "Mon, 02 Jan 2006 24:04:05 GMT",
        "Mon, 02 Jan 06 15:04:05 GMT",
        "Monday, 02 Jan 2006 15:04:05 GMT",
        "2006-01-02T15:04:05Z",
        "Mon, 02 Jan 2006 15:04:05 gmt",
    ],
)
def test_dates_go_refuses(text: str) -> None:
    assert http_date.parse(text) is None


def test_clock_skew() -> None:
    text = DATE.decode()
    assert http_date.within_skew(text, DATE_NS + 5_000_999_999, 5000)  # whole milliseconds, truncated
    assert not http_date.within_skew(text, DATE_NS + 5_001_000_000, 5000)
    assert not http_date.within_skew(text, DATE_NS - 10_000_000_000, 5000)  # in the future
    assert http_date.within_skew(text, DATE_NS + 10**18, 0)  # 0 or below: no skew check
    assert http_date.within_skew(text, DATE_NS + 10**18, -1)
    assert not http_date.within_skew("", DATE_NS, 0)  # but the Date must parse
    assert not http_date.within_skew("yesterday", DATE_NS, -1)
