"""The render memo is exact: through every combination of values a template's branches can see, a
remembered body equals a fresh render; a change to a field the template read (or printed whole) is
never served stale; a field it never read (the timestamp) does not stop a hit."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gateway.packaged import TEMPLATES
from gateway.templating.go.memo import RenderMemo
from gateway.templating.template import Template, from_string, load_template

ROOT = Path(__file__).resolve().parents[2]


def fresh(template: Template, data: Mapping[str, Any]) -> str:
    """The same template rendered with no memo at all."""
    return template._jinja.render({**data, "_dot": data, "_root": data})


class Counting:
    def __init__(self, template: Template) -> None:
        self.template, self.renders = template, 0

    def __call__(self, data: Mapping[str, Any]) -> str:
        self.renders += 1
        return self.template._render_dot(data)


def event(kind: str, stamp: str = "t1", **meta: Any) -> dict[str, Any]:
    fields = {"Message": "m", "Path": "/p", "Origin": "1.2.3.4", "Key": "k", "OriginatingRequest": "", **meta}
    return {"Type": kind, "Meta": fields, "TimeStamp": stamp, "EventType": kind, "EventMetaData": fields}


def test_identical_events_render_once_and_unread_fields_do_not_matter() -> None:
    template = load_template(TEMPLATES / "default_webhook.json")
    memo, render = RenderMemo(), Counting(template)
    bodies = {
        memo.render(event("RatelimitExceeded", stamp=f"t{i}", OriginatingRequest=f"r{i}"), render)
        for i in range(50)
    }
    assert render.renders == 1 and len(bodies) == 1
    assert bodies == {fresh(template, event("RatelimitExceeded"))}
    # A field the branch prints: a new body, rendered afresh.
    assert memo.render(event("RatelimitExceeded", Key="other"), render) == fresh(
        template, event("RatelimitExceeded", Key="other")
    )
    assert render.renders == 2


BRANCHY = (
    '{{if eq .Meta.A "x"}}{{.Meta.B}}{{else if .Meta.C}}{{printf "%v" .Meta.C}}{{else}}none{{end}}'
    "|{{range $k, $v := .Meta.D}}{{$k}}={{$v}};{{end}}|{{.Meta.E}}"
)


@pytest.mark.parametrize(
    ("source", "reused"),
    # Printing a whole map reads each of its keys: one shape per key set, more than the memo keeps here.
    [(BRANCHY, True), ('{{len .Meta.D}} {{index .Meta "B"}}', True), ("{{.Meta}}", False), ("{{.}}", False)],
)
def test_every_combination_matches_a_fresh_render(source: str, reused: bool) -> None:
    template = from_string(source, json_escape=False)
    memo, render = RenderMemo(), Counting(template)
    values = {
        "A": ["x", "y", None],
        "B": ["b1", "b2", 1, True],
        "C": ["", "c", 0, 1.0, {"n": 1}],
        "D": [{}, {"k": 1}, {"k": 2}, {"j": 1}],
    }
    cases = [dict(zip(values, combo, strict=True)) for combo in itertools.product(*values.values())]
    for meta in cases + cases:  # the second pass is served from the memo where it may be
        meta = {name: value for name, value in meta.items() if value is not None}  # absent, not None
        data = {"Type": "Custom", "Meta": meta, "TimeStamp": "now"}
        assert memo.render(data, render) == fresh(template, data), meta
    assert render.renders <= len(cases) or not reused


def test_true_one_and_one_point_oh_are_kept_apart() -> None:
    template = from_string("{{.Meta.V}}", json_escape=False)
    memo, render = RenderMemo(), Counting(template)
    shown = [memo.render({"Meta": {"V": v}}, render) for v in (True, 1, 1.0)]
    assert shown == ["true", "1", "1"] and render.renders == 3


def test_jinja2_expressions_are_never_memoized() -> None:
    assert from_string("{{ Meta.Path }}")._memo is None
    assert from_string("{{.Meta.Path}}")._memo is not None


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("{{.Meta.Path}} {{.Type}}", False),
        ("{{.Meta.OriginatingRequest}}", True),
        ('{{.EventMetaData.OriginatingRequest | printf "%.10s"}}', True),
        ("{{.Meta}}", True),  # printed whole
        ("{{.}}", True),
        ("{{range $k, $v := .Meta}}{{$v}}{{end}}", True),
        ("{{with .Meta}}{{.Path}}{{end}}", True),  # `.` inside is all of .Meta
        ("{{$m := .Meta}}{{$m.Path}}", True),
        ('{{printf "%v" .Meta.Key}}', False),
        ("{{ Meta.OriginatingRequest }}", True),  # a jinja2 expression: anything goes
    ],
)
def test_may_read_is_false_only_when_provably_unread(source: str, reads: bool) -> None:
    template = from_string(source, json_escape=False)
    # EventMetaData is Meta under its v1.9 name: the same field under either path.
    either = any(template.may_read(part, "OriginatingRequest") for part in ("Meta", "EventMetaData"))
    assert either is reads


def test_the_default_webhook_template_never_reads_the_originating_request() -> None:
    template = load_template(TEMPLATES / "default_webhook.json")
    assert not template.may_read("Meta", "OriginatingRequest")
    assert not template.may_read("EventMetaData", "OriginatingRequest")
    assert template.may_read("Meta", "Path")
