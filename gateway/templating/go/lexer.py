"""The Go template lexer: literal text versus `{{ }}` actions, trim markers, tokens and literals.

Owns Go's lexical rules (where an action ends, `{{- ` / ` -}}` trimming, comments, string and number
syntax) and the jinja2 spelling of literals. It knows nothing of functions, variables or blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

SPACE = " \t\r\n"
KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
)
_TOKEN = re.compile(
    r"""(?P<space>\s+)
    |(?P<field>\.[^\W\d]\w*)
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+
        |(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?))
    |(?P<dot>\.)
    |(?P<var>\$\w*)
    |(?P<ident>[^\W\d]\w*)
    |(?P<string>"(?:[^"\\\n]|\\.)*")
    |(?P<raw>`[^`]*`)
    |(?P<char>'(?:[^'\\\n]|\\[^\n]+?)')
    |(?P<op>:=|[|(),=])""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_SIMPLE_ESCAPES.update({c: c for c in "\\'\""})


class GoTemplateError(Exception):
    """A Go template syntax error, with the 1-based line of the offending action."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Action:
    body: str
    line: int
    # Newlines of trimmed whitespace before the action (`lead`), and of the action itself plus whitespace
    # trimmed after it (`trail`): re-emitted inside the jinja tag so line numbers stay the user's.
    lead: int
    trail: int
    comment: bool


@dataclass(frozen=True, slots=True)
class Tok:
    kind: str
    text: str
    glued: bool  # no whitespace before it: `.A.B` is one chain, `.A .B` two operands


def split(source: str) -> Iterator[str | Action]:
    """Literal text and actions, with Go's `{{- ` / ` -}}` whitespace trimming already applied."""
    pos, line, size = 0, 1, len(source)
    while (start := source.find("{{", pos)) >= 0:
        text = source[pos:start]
        at = line + text.count("\n")
        left = source.startswith("{{-", start) and start + 3 < size and source[start + 3] in SPACE
        lead = 0
        if left:
            kept = text.rstrip(SPACE)
            lead = text.count("\n", len(kept))
            text = kept
        yield text
        body_start = start + 3 if left else start + 2
        comment = source.startswith("/*", body_start + 1 if left else body_start)
        body_end, pos, right = _close(source, body_start + 1 if comment and left else body_start, comment, at)
        while right and pos < size and source[pos] in SPACE:
            pos += 1
        yield Action(source[body_start:body_end], at, lead, source.count("\n", start, pos), comment)
        line = at + source.count("\n", start, pos)
    yield source[pos:]


def _close(source: str, i: int, comment: bool, line: int) -> tuple[int, int, bool]:
    """(body end, action end, right trim) for the action whose body starts at `i`."""
    size = len(source)
    if comment:
        k = source.find("*/", i + 2)
        if k < 0:
            raise GoTemplateError(line, "unclosed comment")
        if source.startswith("}}", k + 2):
            return k + 2, k + 4, False
        if k + 2 < size and source[k + 2] in SPACE and source.startswith("-}}", k + 3):
            return k + 2, k + 6, True
        raise GoTemplateError(line, "comment ends before closing delimiter")
    j = i
    while j < size:
        c = source[j]
        if c in "\"'`":  # `}}` inside a quoted string does not close the action
            j += 1
            while j < size and source[j] != c:
                if source[j] == "\n" and c != "`":
                    break
                j += 2 if source[j] == "\\" and c != "`" else 1
            if j >= size or source[j] != c:
                raise GoTemplateError(line, 'unterminated quoted string (is a closing "}}" missing?)')
        elif source.startswith("}}", j):
            right = j - 2 >= i and source[j - 1] == "-" and source[j - 2] in SPACE
            return (j - 2 if right else j), j + 2, right
        j += 1
    raise GoTemplateError(line, "unclosed action")


def lex(body: str, line: int) -> list[Tok]:
    toks: list[Tok] = []
    pos, glued = 0, True
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if m is None:
            raise GoTemplateError(line + body.count("\n", 0, pos), f"unexpected {body[pos]!r} in command")
        kind, text = m.lastgroup or "", m.group()
        if kind == "space":
            glued = False
        else:
            toks.append(Tok(text if kind == "op" else kind, text, glued))
            glued = True
        pos = m.end()
    return toks


def jinja_str(value: str) -> str:
    """A jinja2 string literal for `value`: pure ASCII, so jinja's escape decoding is exact."""
    out = []
    for c in value:
        code = ord(c)
        if c in '\\"':
            out.append("\\" + c)
        elif 32 <= code < 127:
            out.append(c)
        else:
            out.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def unquote(text: str, line: int) -> str:
    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] in "xuU":
            return chr(int(esc[1:], 16))
        if esc[0].isdigit():
            return chr(int(esc, 8))
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        raise GoTemplateError(line, f"invalid escape \\{esc} in {text}")

    return _ESCAPE.sub(one, text[1:-1])


def number(text: str, line: int) -> str:
    clean = text.replace("_", "")
    try:
        if re.fullmatch(r"[+-]?0[0-7]+", clean):  # Go's legacy octal: 010 == 8
            return str(int(clean, 8))
        if re.fullmatch(r"[+-]?(?:0[xX][\da-fA-F]+|0[bB][01]+|0[oO][0-7]+|\d+)", clean):
            return str(int(clean, 0))
        value = float(clean)
    except ValueError:
        raise GoTemplateError(line, f"bad number syntax: {text!r}") from None
    if value in (float("inf"), float("-inf")):
        raise GoTemplateError(line, f"number out of range: {text}")
    return repr(value)
