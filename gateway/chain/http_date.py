"""The Date of a signed request as Tyk reads it (Go's time.Parse with `Mon, 02 Jan 2006 15:04:05 MST`, then
`... -07`) and Tyk's clock-skew rule. Pure: the caller passes the time; no I/O. A zone abbreviation other than
UTC and GMT+-N is offset 0, as Go gives it in Tyk's usual UTC container (Go tries the local zone first).
"""

from __future__ import annotations

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DIGITS = "0123456789"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def within_skew(date: str, now_ns: int, skew_ms: float) -> bool:
    """Tyk's checkClockSkew: the Date must parse whatever the skew; then, with a skew above 0, it may be at
    most `skew_ms` milliseconds (whole, truncated) before or after now."""
    moment = parse(date)
    if moment is None:
        return False
    if skew_ms <= 0:
        return True
    return abs(now_ns - moment) // 1_000_000 <= skew_ms


def parse(text: str) -> int | None:
    """Unix nanoseconds, or None where Go's time.Parse fails both of Tyk's layouts."""
    moment = _parse(text, numeric_zone=False)
    return moment if moment is not None else _parse(text, numeric_zone=True)


def _skip(value: str, literal: str) -> str | None:
    """Go's skip: a layout space matches any run of spaces (or the end of the value); the rest exactly."""
    for char in literal:
        if char == " ":
            if value and value[0] != " ":
                return None
            value = value.lstrip(" ")
        elif not value or value[0] != char:
            return None
        else:
            value = value[1:]
    return value


def _number(value: str, fixed: bool) -> tuple[int, str] | None:
    """Go's getnum: two digits, or (when not fixed) one."""
    if value[:1] == "" or value[0] not in _DIGITS:
        return None
    if value[1:2] == "" or value[1] not in _DIGITS:
        return None if fixed else (int(value[0]), value[1:])
    return int(value[:2]), value[2:]


def _signed_offset(value: str) -> int:
    """Go's parseSignedOffset: the length of `+N`/`-N` with N <= 12, or 0."""
    digits = len(value[1:]) - len(value[1:].lstrip(_DIGITS))
    if value[:1] not in ("+", "-") or digits == 0 or int(value[1 : 1 + digits]) > 12:
        return 0
    return 1 + digits


def _zone_length(value: str) -> int:
    """Go's parseTimeZone: how much of `value` reads as a zone abbreviation (0: none)."""
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value[:3] == "GMT":
        return 3 + (_signed_offset(value[3:]) if len(value) > 3 else 0)
    if value[0] in "+-":
        return _signed_offset(value)
    upper = len(value[:6]) - len(value[:6].lstrip(_UPPER))
    if upper == 3 or (upper == 4 and (value[3] == "T" or value[:4] == "WITA")):
        return upper
    return 5 if upper == 5 and value[4] == "T" else 0


def _parse(value: str, numeric_zone: bool) -> int | None:
    if value[:3].lower() not in DAYS:
        return None
    rest = _skip(value[3:], ", ")
    day = _number(rest, fixed=True) if rest is not None else None
    if day is None:
        return None
    rest = _skip(day[1], " ")
    if rest is None or rest[:3].lower() not in MONTHS:
        return None
    month = MONTHS.index(rest[:3].lower()) + 1
    rest = _skip(rest[3:], " ")
    if rest is None or len(rest) < 4 or any(c not in _DIGITS for c in rest[:4]):
        return None
    year, rest = int(rest[:4]), _skip(rest[4:], " ")
    fields = [day[0]]
    for literal, fixed, limit in ((":", False, 24), (":", True, 60), ("", True, 60)):
        got = _number(rest, fixed) if rest is not None else None
        if got is None or got[0] >= limit:
            return None
        fields.append(got[0])
        rest = _skip(got[1], literal)
    assert rest is not None
    nanos = 0
    if len(rest) >= 2 and rest[0] in ".," and rest[1] in _DIGITS:  # Go reads a fraction the layout lacks
        end = len(rest) - len(rest[1:].lstrip(_DIGITS))
        nanos = int(rest[1:10].ljust(9, "0")[:9]) if end > 10 else int(rest[1:end].ljust(9, "0"))
        rest = rest[end:]
    rest = _skip(rest, " ")
    offset = _zone(rest, numeric_zone) if rest is not None else None
    if offset is None or not 1 <= fields[0] <= _days_in(month, year):
        return None
    day_number = _days_from_civil(year, month, fields[0])
    seconds = day_number * 86400 + fields[1] * 3600 + fields[2] * 60 + fields[3] - offset
    return seconds * 1_000_000_000 + nanos


def _zone(rest: str, numeric: bool) -> int | None:
    """The zone's offset east of UTC in seconds, when it is all that is left."""
    if numeric:  # -07: a sign and two digits
        if len(rest) != 3 or rest[0] not in "+-" or any(c not in _DIGITS for c in rest[1:]):
            return None
        hours = int(rest[1:])
        return None if hours > 24 else hours * 3600 * (1 if rest[0] == "+" else -1)
    if rest.startswith("UTC"):
        return 0 if rest == "UTC" else None
    length = _zone_length(rest)
    if length == 0 or length != len(rest):
        return None
    # Go gives an unknown abbreviation offset 0; only GMT+N / GMT-N carries its hours.
    return int(rest[3:]) * 3600 if rest.startswith("GMT") and length > 3 else 0


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year Go parses, 0000 included)."""
    year -= 1 if month <= 2 else 0
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
