"""The functions Go templates call: text/template's builtins and Tyk's `as_rfc3339` helpers.

Owns field lookup and `range` iteration over plain data, comparisons, `len`/`index`/`slice`, the
`html`/`js`/`urlquery` escapers and RFC 3339 conversion, plus each function's arity for load-time checks.
Nothing here raises on bad data: where Go would abort the webhook, these return something sensible.
"""

from __future__ import annotations

import inspect
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote_plus

from gateway.templating.go.fmt import go_print, go_printf, go_println, go_str, sorted_items

_GO_TIME = re.compile(
    r"(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d+))?"  # Go's .999999: any digits, or none
    r" ([+-])(\d\d)(\d\d) ([A-Z]{3,5}|[+-]\d\d(?:\d\d)?)"  # -0700 MST (zone names as Go accepts them)
)
_JS_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def go_field(value: Any, *names: str) -> Any:
    """`.A.B.C`: map keys or attributes; a missing step gives None (Go would abort; we render empty)."""
    for name in names:
        if isinstance(value, Mapping):
            value = value.get(name)
        elif value is None or name.startswith("_"):
            return None
        else:
            value = getattr(value, name, None)
    return value


def go_range(value: Any) -> Sequence[tuple[Any, Any]]:
    """(key, element) pairs as `{{range}}` visits them; nothing for a missing or unrangeable value."""
    if isinstance(value, Mapping):
        return sorted_items(value)
    if value is None or isinstance(value, str | bytes | bool | float):
        return ()
    if isinstance(value, int):
        return [(i, i) for i in range(value)]
    try:
        return list(enumerate(value))
    except TypeError:
        return ()


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):  # Go refuses to compare a bool with a number
        return False
    try:
        return bool(a == b)
    except Exception:
        return False


def go_eq(a: Any, b: Any, *more: Any) -> bool:
    """Go's `eq a b c` is true when a equals any of the others."""
    return any(_eq(a, other) for other in (b, *more))


def go_ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _ordered(compare: Callable[[Any, Any], Any]) -> Callable[[Any, Any], bool]:
    def check(a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        try:
            return bool(compare(a, b))
        except TypeError:
            return False

    return check


def go_and(first: Any, *rest: Any) -> Any:
    """The first empty argument, or the last one."""
    for value in (first, *rest):
        if not value:
            return value
    return value


def go_or(first: Any, *rest: Any) -> Any:
    """The first non-empty argument, or the last one."""
    for value in (first, *rest):
        if value:
            return value
    return value


def go_not(value: Any) -> bool:
    return not value


def go_len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())  # Go's len counts bytes
    try:
        return len(value)
    except TypeError:
        return 0


def go_index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            try:
                value = value.get(key)
            except TypeError:  # an unhashable key (a list, a map) is in no map
                return None
            continue
        if isinstance(value, str):
            value = value.encode()  # indexing a Go string gives a byte
        if not isinstance(value, Sequence) or not isinstance(key, int) or not 0 <= key < len(value):
            return None
        value = value[key]
    return value


def go_slice(value: Any, *bounds: Any) -> Any:
    """`slice x 1 2` is x[1:2]; `slice x 1` is x[1:]; a third bound (capacity) does not change the items."""
    if not isinstance(value, str | Sequence) or len(bounds) > 3:
        return None
    low, high = (list(bounds) + [0, len(value)][len(bounds) :])[:2]
    if not all(isinstance(b, int) and not isinstance(b, bool) for b in bounds) or not 0 <= low <= high <= len(
        value
    ):
        return None
    return value[low:high]


def _text_of(args: tuple[Any, ...]) -> str:
    """Go's evalArgs: a lone string as is, anything else as fmt.Sprint prints it."""
    return args[0] if len(args) == 1 and isinstance(args[0], str) else go_print(*args)


def go_html(*args: Any) -> str:
    text = _text_of(args).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace('"', "&#34;").replace("'", "&#39;").replace("\0", "\ufffd")


def go_js(*args: Any) -> str:
    out = []
    for c in _text_of(args):
        if c in _JS_ESCAPES:
            out.append(_JS_ESCAPES[c])
        elif c < " " or (c >= "\x7f" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def go_urlquery(*args: Any) -> str:
    return quote_plus(_text_of(args), safe="")


def rfc3339(moment: datetime) -> str:
    """Go's time.RFC3339: seconds precision, `Z` for UTC (a naive time is taken as UTC)."""
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return f"{moment:%Y-%m-%dT%H:%M:%S}Z"
    minutes = int(abs(offset).total_seconds()) // 60
    sign = "-" if offset < timedelta(0) else "+"
    return f"{moment:%Y-%m-%dT%H:%M:%S}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def parse_go_time(text: str) -> datetime | None:
    """Parse Go's `2006-01-02 15:04:05.999999 -0700 MST` (what `.TimeStamp` holds), or None."""
    m = _GO_TIME.fullmatch(text.strip())
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, sign, off_h, off_m, _zone = m.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        parts = (int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
        return datetime(*parts, tzinfo=timezone(offset))
    except ValueError:
        return None


def as_rfc3339(value: Any) -> str:
    """Tyk's `as_rfc3339` (a time to RFC 3339). Go only takes a time; a Go or ISO time string is accepted
    too, anything else comes back as printed."""
    if isinstance(value, datetime):
        return rfc3339(value)
    text = go_str(value)
    parsed = parse_go_time(text)
    if parsed is None and isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return text
    return text if parsed is None else rfc3339(parsed)


def as_rfc3339_from_string(value: Any) -> str:
    """Tyk's `as_rfc3339_from_string`: Go's time string to RFC 3339; what does not parse comes back as is."""
    if isinstance(value, datetime):
        return rfc3339(value)
    text = go_str(value)
    parsed = parse_go_time(text)
    return text if parsed is None else rfc3339(parsed)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "and": go_and,
    "or": go_or,
    "not": go_not,
    "eq": go_eq,
    "ne": go_ne,
    "lt": _ordered(operator.lt),
    "le": _ordered(operator.le),
    "gt": _ordered(operator.gt),
    "ge": _ordered(operator.ge),
    "len": go_len,
    "index": go_index,
    "slice": go_slice,
    "print": go_print,
    "println": go_println,
    "printf": go_printf,
    "html": go_html,
    "js": go_js,
    "urlquery": go_urlquery,
    "as_rfc3339": as_rfc3339,
    "as_rfc3339_from_string": as_rfc3339_from_string,
}


def _arity(func: Callable[..., Any]) -> tuple[int, int | None]:
    params = inspect.signature(func).parameters.values()
    required = sum(1 for p in params if p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty)
    variadic = any(p.kind is p.VAR_POSITIONAL for p in params)
    return required, None if variadic else len(params)


# (min, max) arguments per function: the translator checks calls at load time, as Go's parser does.
ARITY: dict[str, tuple[int, int | None]] = {name: _arity(func) for name, func in FUNCTIONS.items()}
