"""Go's fmt, as templates print values: `%v` of every value, Sprint, Sprintln and Sprintf.

Owns how a Python value prints as Go prints it (`true`, `1e+06`, `map[k:v]`, Go's time string) and the
common printf verbs with Go's `%!d(string=x)` / `%!v(MISSING)` markers. A missing value (None) prints
empty at the top level: Go would abort the webhook, we render (TYK-REFERENCE section 11, item 4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.?)", re.S)
_QUOTE_ESCAPES = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v", "\\": "\\"}


def go_str(value: Any, nested: bool = False) -> str:
    """`value` as Go's `%v` prints it; a missing value (None) is empty at the top level, `<nil>` inside."""
    if value is None:
        return "<nil>" if nested else ""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, datetime):
        return go_time(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{go_str(k, True)}:{go_str(v, True)}" for k, v in sorted_items(value)) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_str(v, True) for v in value) + "]"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def go_float(value: float) -> str:
    """Go's shortest `%v`: `3`, `0.5`, `123456`, `1e+06`, `1.5e-05`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    number = Decimal(repr(abs(value))).normalize()
    digits = "".join(map(str, number.as_tuple().digits))
    exponent = len(digits) + int(number.as_tuple().exponent) - 1
    if exponent < -4 or exponent >= 6:  # strconv's 'g' with shortest precision switches at 6 digits
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + format(number, "f")


def go_time(moment: datetime) -> str:
    """Go's default time printing in the time's own zone: `2026-08-21 12:39:47.123456 +0000 UTC`."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.strftime("%z")
    zone = moment.tzname() or offset
    if zone.startswith(("UTC+", "UTC-")):  # Python's name for an unnamed fixed offset; Go prints the offset
        zone = offset
    frac = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return f"{moment:%Y-%m-%d %H:%M:%S}{frac} {offset} {zone}"


def sorted_items(mapping: Mapping[Any, Any]) -> list[tuple[Any, Any]]:
    """Go visits map keys in sorted order (printing and `range`)."""
    try:
        return sorted(mapping.items())
    except TypeError:
        return sorted(mapping.items(), key=lambda kv: str(kv[0]))


def go_print(*args: Any) -> str:
    """fmt.Sprint: a space between two operands only when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(go_str(arg))
    return "".join(out)


def go_println(*args: Any) -> str:
    return " ".join(go_str(a) for a in args) + "\n"


def go_printf(fmt: Any, *args: Any) -> str:
    """fmt.Sprintf for the common verbs, with Go's `%!d(string=x)` / `%!v(MISSING)` for mistakes."""
    fmt = go_str(fmt)  # a format from the data may be anything
    out: list[str] = []
    pos = used = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
        elif not verb:
            out.append("%!(NOVERB)")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            used += 1
            text = _verb(verb, args[used - 1], flags, int(precision or 0) if precision is not None else None)
            out.append(_pad(text, flags, int(width) if width else 0))
    out.append(fmt[pos:])
    if used < len(args):
        out.append("%!(EXTRA " + ", ".join(_typed(a) for a in args[used:]) + ")")
    return "".join(out)


def _verb(verb: str, arg: Any, flags: str, precision: int | None) -> str:
    number = isinstance(arg, int) and not isinstance(arg, bool)
    if verb == "v" or (verb == "s" and (arg is None or not isinstance(arg, bool | int | float))):
        text = go_str(arg)
        return text[:precision] if verb == "s" and precision is not None else text
    if verb == "q" and isinstance(arg, str):
        return _quote(arg, '"')
    if verb == "q" and number:
        return _quote(chr(arg), "'")
    if verb == "t" and isinstance(arg, bool):
        return go_str(arg)
    if verb == "T":
        return _type(arg)
    if number and verb in "dboxXc":
        if verb == "c":
            return chr(arg)
        sign = "+" if "+" in flags and verb == "d" else ""
        return format(arg, sign + ("#" if "#" in flags and verb in "xXob" else "") + verb.replace("d", ""))
    if isinstance(arg, float) and verb in "eEfFgG":
        if verb in "gG" and precision is None:
            return go_float(arg) if verb == "g" else go_float(arg).upper()
        return format(arg, f"{'+' if '+' in flags else ''}.{6 if precision is None else precision}{verb}")
    if isinstance(arg, str) and verb in "xX":
        return format(int.from_bytes(arg.encode()), f"0{2 * len(arg.encode())}{verb}") if arg else ""
    return f"%!{verb}({_typed(arg)})"


def _pad(text: str, flags: str, width: int) -> str:
    if len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    if "0" in flags and text[:1] in "+-" and text[1:2].isdigit():
        return text[0] + text[1:].rjust(width - 1, "0")
    return text.rjust(width, "0" if "0" in flags and text[:1].isdigit() else " ")


def _type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float64", str: "string", datetime: "time.Time"}
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return "<nil>" if value is None else type(value).__name__


def _typed(value: Any) -> str:
    return "<nil>" if value is None else f"{_type(value)}={go_str(value, True)}"


def _quote(text: str, quote: str) -> str:
    """strconv.Quote (or QuoteRune with `'`)."""
    out = []
    for c in text:
        if c == quote or c in _QUOTE_ESCAPES:
            out.append("\\" + _QUOTE_ESCAPES.get(c, c))
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return quote + "".join(out) + quote
