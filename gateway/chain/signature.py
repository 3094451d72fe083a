"""Tyk's `Signature keyId=...,algorithm=...,headers=...,signature=...` credential: parsed as Go's text/scanner
and strconv.Unquote read it, the string a client signs, and Tyk's URL-escaped base64 comparison. Pure: no key
lookup, clock, events or I/O (chain/hmac_auth.py does those); strings hold the header's bytes as latin-1.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

SPACE = " \t\n\r\v\f"  # what Go's TrimSpace removes from ASCII text
FIELDS = ("keyid", "algorithm", "headers", "signature")
HASHES = {"hmac-sha256": "sha256", "hmac-sha384": "sha384", "hmac-sha512": "sha512"}  # else SHA-1
_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
_LOWER_ESCAPE = re.compile(r"%[a-f0-9][a-f0-9]")
_HEX = "0123456789abcdefABCDEF"
_DIGITS = frozenset("0123456789")

Header = Callable[[bytes], bytes | None]  # a request header by lower-case name, the first one


class Malformed(ValueError):
    """The credential is not one Tyk would parse (the reason is logged, never sent)."""


@dataclass(frozen=True, slots=True)
class Fields:
    key_id: str = ""
    algorithm: str = ""
    headers: tuple[str, ...] = ("date",)  # Tyk: the Date header alone unless `headers` is given
    signature: str = ""  # as sent: still URL-escaped


def parse(credential: str) -> Fields:
    """Tyk's stripSignature, loadKeyValues and getFieldValues: key=value pairs split by commas; a name other
    than keyId, algorithm, headers or signature (any case) or a bad escape is Malformed."""
    text = credential.removeprefix("Signature").removeprefix("signature").strip(SPACE)
    pairs: dict[str, str] = {}
    key, expecting_value = "", False
    for token in tokens(text):
        if token in ("=", ","):
            expecting_value = token == "="
        elif expecting_value:
            pairs[key], expecting_value = token, False
        else:
            key, expecting_value = token, True
    found: dict[str, str] = {}
    for name, value in pairs.items():
        if name.lower() not in FIELDS:
            raise Malformed(f"field {name!r} is not keyId, algorithm, headers or signature")
        # Only double-quoted values are unquoted: single quotes and backquotes stay in the value.
        found[name.lower()] = unquote(value) if value.startswith('"') else value
    headers = tuple(found["headers"].split(" ")) if "headers" in found else ("date",)
    return Fields(found.get("keyid", ""), found.get("algorithm", ""), headers, found.get("signature", ""))


def tokens(text: str) -> Iterator[str]:
    """Go's text/scanner in its default mode, as token texts: identifiers, numbers, quoted strings (an
    unterminated one runs to the line's end), raw strings, single other characters; comments skipped."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\t\n\r ":
            i += 1
            continue
        if c == "/" and text[i + 1 : i + 2] in ("/", "*"):
            end = text.find("\n", i) if text[i + 1] == "/" else text.find("*/", i + 2)
            i = n if end < 0 else end + (0 if text[i + 1] == "/" else 2)
            continue
        if c == "_" or c.isalpha():
            j = i + 1
            while j < n and (text[j] == "_" or text[j].isalpha() or text[j].isdecimal()):
                j += 1
        elif c in _DIGITS or (c == "." and text[i + 1 : i + 2] in _DIGITS):
            j = _number(text, i)
        elif c in "\"'":
            j = _quoted(text, i, c)
        elif c == "`":
            end = text.find("`", i + 1)
            j = n if end < 0 else end + 1
        else:
            j = i + 1
        yield text[i:j]
        i = j


def _digits(text: str, i: int, base: int) -> int:
    allowed = "0123456789_" if base <= 10 else _HEX + "_"
    while i < len(text) and text[i] in allowed:
        i += 1
    return i


def _number(text: str, i: int) -> int:
    """The end of a Go number literal starting at i: prefix, digits, fraction, exponent."""
    base = 10
    if text[i] != ".":
        if text[i] == "0" and text[i + 1 : i + 2] in ("x", "X", "o", "O", "b", "B"):
            base = 16 if text[i + 1] in "xX" else 8
            i += 2
        i = _digits(text, i, base)
    if text[i : i + 1] == ".":
        i = _digits(text, i + 1, base)
    if text[i : i + 1] in ("e", "E", "p", "P"):
        i += 1
        if text[i : i + 1] in ("+", "-"):
            i += 1
        i = _digits(text, i, 10)
    return i


def _quoted(text: str, i: int, quote_char: str) -> int:
    """The end of a quoted literal: its closing quote, else the line's end (Go stops there, unterminated)."""
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == quote_char:
            return j + 1
        if c == "\n":
            return j
        j += 2 if c == "\\" and text[j + 1 : j + 2] not in ("", "\n") else 1
    return j


def unquote(value: str) -> str:
    """Go's strconv.Unquote for a double-quoted literal: its escapes, Malformed for what Go refuses."""
    if len(value) < 2 or not value.endswith('"') or "\n" in value:
        raise Malformed("a quoted value is not terminated")
    body, out, i = value[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == '"':
            raise Malformed("a quoted value has a bare quote in it")
        if c != "\\":
            out += c.encode("latin-1")
            i += 1
            continue
        kind = body[i + 1 : i + 2]
        if kind in _ESCAPES:
            out.append(_ESCAPES[kind])
            i += 2
            continue
        size = {"x": 2, "u": 4, "U": 8}.get(kind, 3 if kind and kind in "01234567" else 0)
        digits = body[i + 2 : i + 2 + size] if kind in ("x", "u", "U") else body[i + 1 : i + 4]
        octal = kind not in ("x", "u", "U")
        if not size or len(digits) != size or any(d not in (_HEX[:8] if octal else _HEX) for d in digits):
            raise Malformed(f"a quoted value has an invalid escape {body[i : i + 2]!r}")
        number = int(digits, 8 if octal else 16)
        if kind in ("u", "U"):
            if 0xD800 <= number <= 0xDFFF or number > 0x10FFFF:
                raise Malformed(f"a quoted value escapes an invalid character {body[i : i + 2 + size]!r}")
            out += chr(number).encode()
        elif number > 255:
            raise Malformed(f"a quoted value has an octal escape over 255 {body[i : i + 4]!r}")
        else:
            out.append(number)  # \x and octal escapes are bytes, as in Go
        i += (2 if not octal else 1) + size
    return out.decode("latin-1")


def date_header(header: Header) -> tuple[bytes, bytes]:
    """Tyk's getDateHeader: a non-empty `x-aux-date` wins over `Date` (for clients that cannot set Date)."""
    aux = header(b"x-aux-date")
    if aux:
        return b"x-aux-date", aux
    date = header(b"date")
    return (b"date", date) if date else (b"", b"")


def signing_string(method: str, path: bytes, names: tuple[str, ...], header: Header) -> bytes:
    """What the client signs: one `name: value` line per listed header, lower-case and trimmed, joined by
    newlines; `(request-target)` is the method and the decoded path (no query); a missing header signs an
    empty value; `date` is the x-aux-date header when one is sent."""
    lines = []
    for name in names:
        lowered = name.encode("latin-1").lower().strip()
        if lowered == b"(request-target)":
            lines.append(b"(request-target): " + method.lower().encode("latin-1") + b" " + path)
            continue
        value = header(lowered) or b""
        if lowered == b"date":
            lowered, value = date_header(header)
        lines.append(lowered.strip() + b": " + value.strip())
    return b"\n".join(lines)


def encoded_signature(message: bytes, secret: bytes, algorithm: str) -> str:
    """Tyk's expected signature: URL-escaped standard base64 of the HMAC (SHA-1 for any other algorithm)."""
    digest = hmac.digest(secret, message, HASHES.get(algorithm, "sha1"))
    return quote(base64.b64encode(digest).decode("ascii"), safe="")


def matches(expected: str, sent: str) -> bool:
    """Tyk compares the escaped strings, then once more with lower-case escapes (`%2f`) upper-cased."""
    want = expected.encode("ascii")
    if hmac.compare_digest(want, sent.encode()):
        return True
    upper = _LOWER_ESCAPE.sub(lambda m: m.group().upper(), sent)
    return upper != sent and hmac.compare_digest(want, upper.encode())
