"""The Go pipeline parser: `$x := .A.B | printf "%s" | len` as one jinja2 expression.

Owns operands (fields, variables, literals, parenthesised pipelines), commands and pipes, and Go's
parse-time checks (unknown function, arity, undefined variable). Blocks and text are the translator's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn, Protocol

from gateway.templating.go.lexer import KEYWORDS, GoTemplateError, Tok, jinja_str, number, unquote


class Scope(Protocol):
    """What the parser needs from the enclosing blocks: the functions, the current `.`, the variables."""

    arity: Mapping[str, tuple[int, int | None]]
    dots: list[str]  # the jinja2 name of `.` in each open block; the last one is current

    def var(self, name: str, line: int) -> str: ...  # the jinja2 name of `$name`, or GoTemplateError


@dataclass(slots=True)
class _Operand:
    expr: str
    func: str = ""  # a bare function name: called with the command's arguments
    text: str = ""  # as written, for error messages


class Parser:
    """A Go pipeline (`$x := .A | f "b" | g`) as one jinja2 expression."""

    def __init__(self, toks: list[Tok], line: int, tr: Scope) -> None:
        self.toks, self.i, self.line, self.tr = toks, 0, line, tr

    def fail(self, message: str) -> NoReturn:
        raise GoTemplateError(self.line, message)

    def peek(self) -> Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def expect_end(self) -> None:
        if (tok := self.peek()) is not None:
            self.fail(f"unexpected {tok.text!r} in command")

    def pipeline(self, max_decl: int) -> tuple[list[str], bool, str]:
        decls, assign = self._decls(max_decl)
        expr = self._command(None)
        while (tok := self.peek()) is not None and tok.kind == "|":
            self.i += 1
            expr = self._command(expr)
        return decls, assign, expr

    def _decls(self, max_decl: int) -> tuple[list[str], bool]:
        kinds = [t.kind for t in self.toks[self.i : self.i + 4]]
        for count, pattern in ((1, ["var"]), (2, ["var", ",", "var"])):
            if kinds[: len(pattern)] == pattern and kinds[len(pattern) : len(pattern) + 1] in ([":="], ["="]):
                if count > max_decl:
                    self.fail("too many declarations in command")
                names = [t.text[1:] for t in self.toks[self.i : self.i + len(pattern) : 2]]
                assign = kinds[len(pattern)] == "="
                self.i += len(pattern) + 1
                return names, assign
        return [], False

    def _command(self, piped: str | None) -> str:
        operands: list[_Operand] = []
        while (tok := self.peek()) is not None and tok.kind not in ("|", ")"):
            operands.append(self._operand())
        if not operands:
            self.fail("missing value for command")
        for arg in operands[1:]:  # a function as an argument is called with no arguments, as in Go
            if arg.func and self.tr.arity[arg.func][0] > 0:
                self.fail(f"wrong number of args for {arg.func}: want {self.tr.arity[arg.func][0]}, got 0")
        head, args = operands[0], [a.expr + "()" if a.func else a.expr for a in operands[1:]]
        if piped is not None:
            args.append(piped)
        if head.func:
            low, high = self.tr.arity[head.func]
            if len(args) < low or (high is not None and len(args) > high):
                self.fail(f"wrong number of args for {head.func}: want {low}, got {len(args)}")
            return f"{head.expr}({', '.join(args)})"
        if args:
            self.fail(f"can't give argument to non-function {head.text}")
        if head.expr == "none" and len(operands) == 1:
            self.fail("nil is not a command")
        return head.expr

    def _operand(self) -> _Operand:
        tok = self.toks[self.i]
        self.i += 1
        kind, text = tok.kind, tok.text
        if kind == "field":
            return self._chain(self.tr.dots[-1], [text[1:]], text)
        if kind == "dot":
            return _Operand(self.tr.dots[-1], text=text)
        if kind == "var":
            return self._chain(self.tr.var(text[1:], self.line), [], text)
        if kind == "(":
            _, _, inner = self.pipeline(0)
            if (close := self.peek()) is None or close.kind != ")":
                self.fail("unclosed left paren")
            self.i += 1
            return self._chain(f"({inner})", [], "(...)")
        if kind in ("string", "raw"):
            return _Operand(
                jinja_str(unquote(text, self.line) if kind == "string" else text[1:-1]), text=text
            )
        if kind == "char":
            value = unquote(text, self.line)
            if len(value) != 1:
                self.fail(f"malformed character constant: {text}")
            return _Operand(str(ord(value)), text=text)
        if kind == "number":
            return _Operand(number(text, self.line), text=text)
        if kind == "ident":
            literal = {"true": "true", "false": "false", "nil": "none"}.get(text)
            if literal:
                return _Operand(literal, text=text)
            if text in KEYWORDS:
                self.fail(f"unexpected <{text}> in command")
            if text not in self.tr.arity:
                self.fail(f'function "{text}" not defined')
            return _Operand(f"_go_{text}", func=text, text=text)
        self.fail(f"unexpected {text!r} in operand")

    def _chain(self, base: str, names: list[str], text: str) -> _Operand:
        while (tok := self.peek()) is not None and tok.kind == "field" and tok.glued:
            names.append(tok.text[1:])
            text += tok.text
            self.i += 1
        if not names:
            return _Operand(base, text=text)
        return _Operand(f"_go_field({base}, {', '.join(jinja_str(n) for n in names)})", text=text)
