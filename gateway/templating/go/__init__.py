"""Tyk's Go templates (text/template syntax) translated to jinja2 source, and Go's runtime semantics.

`translate` turns Go template source into jinja2 source; `FUNCTIONS` / `ARITY` are the Go functions it
may call; `go_field` / `go_range` / `go_str` are Go's field lookup, iteration and printing. Pure: no I/O,
no imports from the rest of the gateway. gateway.templating.template is the public face; use that instead.
"""

from gateway.templating.go.fmt import go_str
from gateway.templating.go.funcs import ARITY, FUNCTIONS, go_field, go_range
from gateway.templating.go.lexer import GoTemplateError
from gateway.templating.go.translate import translate

__all__ = ["ARITY", "FUNCTIONS", "GoTemplateError", "go_field", "go_range", "go_str", "translate"]
