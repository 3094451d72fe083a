"""Go template blocks onto jinja2 blocks: if / else if / else, range, with, variables and `.`.

Owns the translation loop, the stack of open blocks and what `.` and `$x` mean inside each, and the
jinja2 pass-through for actions that are not Go. The output keeps the input's line numbers, so jinja2
errors point into the user's file. Runtime names (`_go_<func>`, `_go_field`, `_go_range`, `_go_cr`,
`_dot`, `_root`) are provided by gateway.templating.template.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.templating.go.lexer import KEYWORDS, Action, GoTemplateError, Tok, lex, split
from gateway.templating.go.parser import Parser

# Literal text must not open a jinja tag: a `{` before `{`, `%`, `#` (or before our own next tag, which
# a CR is too) is emitted as an expression; a CR is emitted through `_go_cr`, because jinja normalises
# newlines in text (a template saved on Windows, or a browser's textarea, has `{` then CR LF).
_JINJA_OPEN = re.compile(r"\{(?=[{%#\r]|\Z)|\r")
_NAME = re.compile(r"\s*([^\W\d]\w*)")


@dataclass(slots=True)
class _Frame:
    kind: str  # if | range | with
    line: int
    closers: list[str]
    dots: int = 0
    seen_else: bool = False


def translate(
    source: str, arity: Mapping[str, tuple[int, int | None]], is_jinja: Callable[[str], bool]
) -> str:
    """Jinja2 source equivalent to the Go template `source`; raises GoTemplateError.

    `arity` maps each Go function name to (min, max or None) arguments; `is_jinja` says whether an action
    that is not Go syntax is a jinja2 expression, which then passes through unchanged.
    """
    tr = _Translator(arity, is_jinja)
    for piece in split(source):
        tr.out.append(_text(piece) if isinstance(piece, str) else tr.action(piece))
    if tr.frames:
        frame = tr.frames[-1]
        raise GoTemplateError(frame.line, f"{{{{{frame.kind}}}}} has no matching {{{{end}}}}")
    return "".join(tr.out)


def _text(text: str) -> str:
    return _JINJA_OPEN.sub(lambda m: "{{ _go_cr }}" if m.group() == "\r" else "{{ '{' }}", text)


@dataclass(slots=True)
class _Translator:
    arity: Mapping[str, tuple[int, int | None]]
    is_jinja: Callable[[str], bool]
    out: list[str] = field(default_factory=list)
    frames: list[_Frame] = field(default_factory=list)
    dots: list[str] = field(default_factory=lambda: ["_dot"])
    scopes: list[set[str]] = field(default_factory=lambda: [{""}])

    @property
    def go_names(self) -> set[str]:
        return {*self.arity, *KEYWORDS, "true", "false", "nil"}

    def action(self, act: Action) -> str:
        code, kept = self._code(act)
        lead, trail = "\n" * act.lead, "\n" * (act.trail - kept)
        return code[:2] + lead + code[2:-2] + trail + code[-2:]

    def _code(self, act: Action) -> tuple[str, int]:
        """The jinja code of one action, and how many of the action's newlines it already contains."""
        if act.comment:
            return "{##}", 0
        try:
            toks = lex(act.body, act.line)
        except GoTemplateError as exc:  # not Go's alphabet (`~`, `[`): maybe a jinja2 expression
            return self._jinja(act, exc)
        if toks and toks[0].kind == "ident" and toks[0].text in KEYWORDS:
            return self._control(toks[0].text, toks[1:], act.line), 0
        try:
            decls, assign, expr = self._head(toks, act.line, 1)
        except GoTemplateError as exc:
            return self._jinja(act, exc)
        if decls:
            return self._set(decls[0], assign, expr, act.line), 0
        return "{{ " + expr + " }}", 0

    def _jinja(self, act: Action, go_error: GoTemplateError) -> tuple[str, int]:
        """An action that is not Go passes through when it is a jinja2 expression starting with a name
        that means nothing in Go (`{{ Meta.Message }}`); `{{ eq .A }}` or `{{-len}}` stay Go mistakes
        even though jinja2 would parse them."""
        first = _NAME.match(act.body)
        if first is None or first.group(1) in self.go_names or not self.is_jinja(act.body):
            raise go_error
        return "{{ " + act.body + " }}", act.body.count("\n")

    def _set(self, name: str, assign: bool, expr: str, line: int) -> str:
        if assign:
            self.var(name, line)
        else:
            self.scopes[-1].add(name)
        return f"{{% set _v_{name} = {expr} %}}"

    def var(self, name: str, line: int) -> str:
        if not any(name in scope for scope in self.scopes):
            raise GoTemplateError(line, f'undefined variable "${name}"')
        return "_root" if name == "" else f"_v_{name}"

    def _control(self, word: str, toks: list[Tok], line: int) -> str:
        if word == "end":
            if toks:
                raise GoTemplateError(line, f"unexpected {toks[0].text!r} in end")
            if not self.frames:
                raise GoTemplateError(line, "unexpected {{end}}")
            frame = self.frames.pop()
            del self.dots[len(self.dots) - frame.dots :]
            self.scopes.pop()
            return "".join(reversed(frame.closers))
        if word in ("break", "continue"):
            if not any(f.kind == "range" for f in self.frames):
                raise GoTemplateError(line, f"{{{{{word}}}}} outside {{{{range}}}}")
            return f"{{% {word} %}}"
        if word == "else":
            return self._else(toks, line)
        if word not in ("if", "range", "with"):
            raise GoTemplateError(line, f"{{{{{word}}}}} is not supported (one template per file)")
        self.scopes.append(set())
        frame = _Frame(word, line, ["{% endfor %}" if word == "range" else "{% endif %}"])
        self.frames.append(frame)
        if word == "if":
            return self._open_if(toks, line)
        if word == "with":
            return self._open_with(frame, toks, line)
        return self._open_range(frame, toks, line)

    def _head(self, toks: list[Tok], line: int, max_decl: int) -> tuple[list[str], bool, str]:
        if not toks:
            raise GoTemplateError(line, "missing value for command")
        parser = Parser(toks, line, self)
        result = parser.pipeline(max_decl)
        parser.expect_end()
        return result

    def _open_if(self, toks: list[Tok], line: int) -> str:
        decls, assign, expr = self._head(toks, line, 1)
        if decls:
            return self._set(decls[0], assign, expr, line) + f"{{% if _v_{decls[0]} %}}"
        return f"{{% if {expr} %}}"

    def _open_with(self, frame: _Frame, toks: list[Tok], line: int) -> str:
        decls, assign, expr = self._head(toks, line, 1)
        dot = f"_dot{len(self.dots)}"
        code = f"{{% with {dot} = {expr} %}}"
        if decls:
            code += self._set(decls[0], assign, dot, line)
        self.dots.append(dot)
        frame.dots += 1
        frame.closers.insert(len(frame.closers) - 1, "{% endwith %}")
        return code + f"{{% if {dot} %}}"

    def _open_range(self, frame: _Frame, toks: list[Tok], line: int) -> str:
        decls, _, expr = self._head(toks, line, 2)
        depth = len(self.dots)
        names = [f"_v_{d}" for d in decls]
        self.scopes[-1].update(decls)
        key, dot = names if len(names) == 2 else [f"_k{depth}", *(names or [f"_dot{depth}"])]
        self.dots.append(dot)
        frame.dots += 1
        return f"{{% for {key}, {dot} in _go_range({expr}) %}}"

    def _else(self, toks: list[Tok], line: int) -> str:
        if not self.frames:
            raise GoTemplateError(line, "unexpected {{else}}")
        frame = self.frames[-1]
        if frame.seen_else:
            raise GoTemplateError(line, "expected {{end}}; found {{else}}")
        del self.dots[len(self.dots) - frame.dots :]
        frame.dots = 0
        nested = toks[0].text if toks and toks[0].kind == "ident" else ""
        if not toks:
            frame.seen_else = True
            return "{% else %}"
        if nested != frame.kind or nested not in ("if", "with"):
            raise GoTemplateError(
                line, f"unexpected {toks[0].text!r} in {{{{else}}}} of {{{{{frame.kind}}}}}"
            )
        # `else if` / `else with` nest a new block that the one {{end}} also closes, as Go does.
        self.scopes[-1] = set()
        frame.closers.append("{% endif %}")
        if nested == "if":
            return "{% else %}" + self._open_if(toks[1:], line)
        return "{% else %}" + self._open_with(frame, toks[1:], line)
