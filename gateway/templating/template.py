"""Webhook and error-page templates: Tyk's Go template syntax, translated once and rendered by jinja2.

Owns loading (every problem is a ConfigError at load time, naming the file and line), output escaping
(JSON-string escaping for `.json` templates, where Tyk's html/template breaks JSON), and ErrorPages.
Rendering does no I/O and never raises for data problems. It knows nothing of events or handlers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from gateway.errors import ConfigError, HandlerError, render_error, xml_escape
from gateway.log import Throttle, get_logger
from gateway.packaged import template_by_name
from gateway.templating.go import ARITY, FUNCTIONS, GoTemplateError, go_field, go_range, go_str, translate
from gateway.templating.go.memo import RenderMemo, field_chains, memoizable

__all__ = ["ErrorPages", "Template", "from_string", "load_template"]

log = get_logger("templating")


class _Raw(str):
    """Text that reaches the output unescaped: only the translator's own literals (a CR) are raw."""

    __slots__ = ()


def _finalize_json(value: Any) -> str:
    if type(value) is _Raw:
        return value
    if isinstance(value, jinja2.Undefined):
        return ""
    return json.dumps(go_str(value))[1:-1]


def _finalize_raw(value: Any) -> str:
    return "" if isinstance(value, jinja2.Undefined) else go_str(value)


def _environment(finalize: Callable[[Any], str]) -> jinja2.Environment:
    # Sandboxed: a template (a file an admin can point at) must never reach Python internals, e.g.
    # `{{ lipsum.__globals__ }}`; rendering only reads event data.
    env = ImmutableSandboxedEnvironment(
        autoescape=False,
        keep_trailing_newline=True,  # a template's bytes are the body's bytes
        undefined=jinja2.ChainableUndefined,  # a missing field in a jinja2 expression renders empty too
        finalize=finalize,
        extensions=["jinja2.ext.loopcontrols"],  # Go's {{break}} / {{continue}}
        cache_size=0,
    )
    env.globals.update({f"_go_{name}": func for name, func in FUNCTIONS.items()})
    env.globals.update(_go_field=go_field, _go_range=go_range, _go_cr=_Raw("\r"))
    return env


_JSON_ENV = _environment(_finalize_json)
_RAW_ENV = _environment(_finalize_raw)


def _is_jinja_expression(env: jinja2.Environment, body: str) -> bool:
    """True when `{{ body }}` is exactly one jinja2 expression (not Go syntax, not several tags)."""
    try:
        tree = env.parse("{{" + body + "}}")
    except jinja2.TemplateSyntaxError:
        return False
    return (
        len(tree.body) == 1
        and isinstance(tree.body[0], nodes.Output)
        and len(tree.body[0].nodes) == 1
        and not isinstance(tree.body[0].nodes[0], nodes.TemplateData)
    )


class Template:
    """A compiled template: `render(data)` gives the body; `data` is what `{{.X}}` sees as `.`."""

    __slots__ = ("_chains", "_jinja", "_memo", "is_json", "jinja_source", "path")

    def __init__(self, source: str, path: str, is_json: bool) -> None:
        self.path = path
        self.is_json = is_json
        env = _JSON_ENV if is_json else _RAW_ENV
        try:
            self.jinja_source = translate(source, ARITY, partial(_is_jinja_expression, env))
            self._jinja = env.from_string(self.jinja_source)
            tree = env.parse(self.jinja_source)
            self._memo = RenderMemo() if memoizable(tree) else None
            self._chains = field_chains(tree)
        except GoTemplateError as exc:
            raise ConfigError(path, f"template syntax error at line {exc.line}: {exc.message}") from None
        except jinja2.TemplateSyntaxError as exc:  # the translator keeps line numbers: they are the file's
            raise ConfigError(path, f"template syntax error at line {exc.lineno}: {exc.message}") from None

    def render(self, data: Mapping[str, Any]) -> str:
        try:
            if self._memo is not None:  # Go syntax only: `.` is all it can see
                return self._memo.render(data, self._render_dot)
            # The data's keys are also top-level names, for jinja2 expressions such as `{{ Meta.Message }}`.
            return self._jinja.render({**data, "_dot": data, "_root": data})
        except Exception as exc:  # a user's jinja2 expression can raise anything; never a request's problem
            raise HandlerError(f"{self.path}: template rendering error: {exc}") from exc

    def may_read(self, *path: str) -> bool:
        """False only when the template provably never reads `path` (nor a part holding it)."""
        if self._chains is None:
            return True
        return any(chain[: len(path)] == path or path[: len(chain)] == chain for chain in self._chains)

    def _render_dot(self, data: Mapping[str, Any]) -> str:
        return self._jinja.render({"_dot": data, "_root": data})

    def __repr__(self) -> str:
        return f"Template({self.path!r}, is_json={self.is_json})"


def load_template(path: str | Path, *, json_escape: bool | None = None) -> Template:
    """Read, translate and compile a template file. `json_escape` None means "the path ends with .json"."""
    name = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(name, "template file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(name, f"cannot read template: {exc}") from None
    return Template(source, name, name.endswith(".json") if json_escape is None else json_escape)


def from_string(source: str, *, name: str = "<string>", json_escape: bool = True) -> Template:
    return Template(source, name, json_escape)


class ErrorPages:
    """Tyk's client error bodies from `error.json` / `error.xml` in a template directory.

    A file missing there is taken from the packaged templates (Tyk's shipped format), and without those
    errors.render_error writes the same format. Results are cached per
    (message, xml): the set of messages is small, and rejections are a hot path under a flood.
    """

    _CACHE_MAX = 512

    def __init__(self, template_dir: str | Path) -> None:
        folder = Path(template_dir)
        self._templates = {
            False: self._optional(folder, "error.json", True),
            True: self._optional(folder, "error.xml", False),
        }
        self._cache: dict[tuple[str, bool], tuple[bytes, bytes]] = {}
        self._throttle = Throttle(60.0)

    @staticmethod
    def _optional(folder: Path, name: str, json_escape: bool) -> Template | None:
        found = template_by_name(name, folder)
        return load_template(found, json_escape=json_escape) if found is not None else None

    def render(self, message: str, xml: bool = False) -> tuple[bytes, bytes]:
        """(body, content type) of the error page for `message`."""
        key = (message, xml)
        page = self._cache.get(key)
        if page is None:
            page = self._render(message, xml)
            # Some texts are unbounded (upstream OAuth errors): a full cache starts over rather than grow.
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            self._cache[key] = page
        return page

    def _render(self, message: str, xml: bool) -> tuple[bytes, bytes]:
        template = self._templates[xml]
        if template is None:
            return render_error(message, xml)
        try:
            body = template.render({"Message": xml_escape(message) if xml else message})
        except HandlerError as exc:
            if self._throttle.allow(template.path):
                log.warning("error template failed, using the built-in page: %s", exc)
            return render_error(message, xml)
        return body.encode(), b"application/xml" if xml else b"application/json"
