"""Renders remembered by what they read: a flood of identical events renders a webhook body once.

A render sees the data through read-recording mappings; the body is kept under the values of exactly
the fields it read (a nested mapping it only walked through counts as "a mapping", one it iterated or
printed whole counts with all its contents). The next render whose data holds the same values at those
fields would take the same branches and read the same fields, so it gives the same body: the memo is
exact, not a guess. It only serves templates that reach data through the translator's functions (see
`memoizable`); it never renders itself and knows nothing of events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from jinja2 import nodes

MAX_SHAPES = 8  # distinct sets of fields read (one per branch taken, in practice)
MAX_BODIES = 256  # bodies kept per set; a full set starts over
_MISSING = ("missing",)  # what a read of an absent key saw
_NODE = ("mapping",)  # a mapping walked through, not read whole
# jinja2 constructs through which a template could see a mapping other than through Mapping methods.
_UNTRACKED = (nodes.Filter, nodes.Test, nodes.Getattr, nodes.Getitem)

Path = tuple[str, ...]


def memoizable(tree: nodes.Template) -> bool:
    """True when every data access goes through `_`-named translator names (Go syntax only)."""
    if any(True for _ in tree.find_all(_UNTRACKED)):
        return False
    return all(name.name.startswith("_") for name in tree.find_all(nodes.Name))


def field_chains(tree: nodes.Template) -> frozenset[Path] | None:
    """Every field chain a Go-syntax template reads from `.` or `$` (`.Meta.Path` is ("Meta", "Path");
    a range or a variable over `.Meta` is ("Meta",), which covers all of it); None when it may read
    anything (a jinja2 expression, or `.` used other than through a constant chain)."""
    if not memoizable(tree):
        return None
    chains: set[Path] = set()
    through: set[int] = set()  # the `_dot` / `_root` names that start a constant chain
    for call in tree.find_all(nodes.Call):
        if not (isinstance(call.node, nodes.Name) and call.node.name == "_go_field" and call.args):
            continue
        head, names = call.args[0], call.args[1:]
        if isinstance(head, nodes.Name) and head.name in ("_dot", "_root"):
            if not all(isinstance(n, nodes.Const) and isinstance(n.value, str) for n in names):
                return None
            chains.add(tuple(n.value for n in names if isinstance(n, nodes.Const)))
            through.add(id(head))
    for name in tree.find_all(nodes.Name):
        if name.name in ("_dot", "_root") and id(name) not in through:
            return None  # `.` itself printed, passed or ranged over
    return frozenset(chains)


class _Unhashable(Exception):
    pass


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ("map", tuple(sorted((str(k), _freeze(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_freeze(v) for v in value))
    try:
        hash(value)
    except TypeError:
        raise _Unhashable from None
    return (type(value), value)  # typed: True, 1 and 1.0 are equal keys but print differently


def _at(data: Mapping[str, Any], path: Path, whole: bool) -> Any:
    value: Any = data
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return _MISSING
        value = value[key]
    if whole:
        return _freeze(value)
    return _NODE if isinstance(value, Mapping) else _freeze(value)


class _Reads(Mapping[str, Any]):
    """A read-only view of `data` at `path` that records every read into `log` (path -> whole?)."""

    __slots__ = ("_data", "_log", "_path")

    def __init__(self, data: Mapping[str, Any], path: Path, log: dict[tuple[Path, bool], None]) -> None:
        self._data, self._path, self._log = data, path, log

    def __getitem__(self, key: str) -> Any:
        path = (*self._path, key)
        self._log[(path, False)] = None
        value = self._data[key]  # KeyError is a read of an absent key: logged above, same as present
        return _Reads(value, path, self._log) if isinstance(value, Mapping) else value

    def __iter__(self) -> Iterator[str]:
        self._log[(self._path, True)] = None
        return iter(self._data)

    def __len__(self) -> int:
        self._log[(self._path, True)] = None
        return len(self._data)


class RenderMemo:
    def __init__(self) -> None:
        self._shapes: dict[tuple[tuple[Path, bool], ...], dict[tuple[Any, ...], str]] = {}

    def render(self, data: Mapping[str, Any], render: Callable[[Mapping[str, Any]], str]) -> str:
        try:
            for shape, bodies in self._shapes.items():
                body = bodies.get(tuple(_at(data, path, whole) for path, whole in shape))
                if body is not None:
                    return body
        except _Unhashable:
            return render(data)
        log: dict[tuple[Path, bool], None] = {}
        body = render(_Reads(data, (), log))
        shape = tuple(log)
        try:
            values = tuple(_at(data, path, whole) for path, whole in shape)
        except _Unhashable:
            return body
        kept = self._shapes.get(shape)
        if kept is None:
            if len(self._shapes) >= MAX_SHAPES:
                self._shapes.clear()
            kept = self._shapes[shape] = {}
        if len(kept) >= MAX_BODIES:
            kept.clear()
        kept[values] = body
        return body
