"""Tyk's Go templates (text/template syntax) translated to jinja2 source, and Go's runtime semantics.

`translate` turns Go template source into jinja2 source; `FUNCTIONS` / `ARITY` are the Go functions it
may call; `go_field` / `go_range` / `go_str` are Go's field lookup, iteration and printing. Pure: no I/O,
no imports from the rest of the gateway. gateway.templating is the public face; use that instead.
"""

from gateway.gotemplate.fmt import go_str
from gateway.gotemplate.funcs import ARITY, FUNCTIONS, go_field, go_range
from gateway.gotemplate.lexer import GoTemplateError
from gateway.gotemplate.translate import translate

__all__ = ["ARITY", "FUNCTIONS", "GoTemplateError", "go_field", "go_range", "go_str", "translate"]
