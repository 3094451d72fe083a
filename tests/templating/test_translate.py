"""Go template syntax translated to jinja2: control flow, pipelines, literals, trimming, errors with lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError
from gateway.events.catalog import Event, EventMessage, HostStatusMeta
from gateway.packaged import TEMPLATES
from gateway.templating.template import from_string, load_template

DATA: dict[str, Any] = {
    "Type": "HostDown",
    "N": 3,
    "Flag": False,
    "List": ["a", "b", "c"],
    "Map": {"z": 1, "a": 2, "m": 3},
    "Meta": {"Message": "hello", "Key": "k+1", "HostInfo": {"MetaData": {"host_name": "h1"}}, "Empty": ""},
    "Nested": {"Inner": {"Value": "deep"}},
}


def render(source: str, data: dict[str, Any] | None = None) -> str:
    return from_string(source, json_escape=False).render(DATA if data is None else data)


@pytest.mark.parametrize(
    ("source", "out"),
    [
        ("{{.Type}} {{.Meta.Message}} {{.Meta.HostInfo.MetaData.host_name}}", "HostDown hello h1"),
        ('{{if eq .Type "HostUp"}}up{{else if eq .Type "HostDown"}}down{{else}}other{{end}}', "down"),
        ('{{if eq .Type "A" "B" "HostDown"}}any{{end}}', "any"),
        ('{{if ne .Type "HostDown"}}x{{else}}y{{end}}', "y"),
        ("{{if .Flag}}t{{else if .Meta.Empty}}e{{else if .Missing}}m{{else}}none{{end}}", "none"),
        ("{{range .List}}[{{.}}]{{end}}", "[a][b][c]"),
        ("{{range $i, $e := .List}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c "),
        ("{{range $k, $v := .Map}}{{$k}}:{{$v}},{{end}}", "a:2,m:3,z:1,"),
        ("{{range .Missing}}x{{else}}empty{{end}}", "empty"),
        ('{{range $e := .List}}{{if eq $e "b"}}{{break}}{{end}}{{$e}}{{end}}', "a"),
        ('{{range .List}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac"),
        ("{{range 3}}{{.}}{{end}}", "012"),
        ("{{range .List}}{{$.Type}}/{{.}} {{end}}", "HostDown/a HostDown/b HostDown/c "),
        ("{{with .Nested.Inner}}{{.Value}}{{end}}", "deep"),
        ("{{with .Missing}}x{{else}}outer {{.Type}}{{end}}", "outer HostDown"),
        ("{{with .Missing}}x{{else with .Meta}}{{.Message}}{{else}}z{{end}}", "hello"),
        ("{{with $m := .Meta}}{{$m.Key}}{{end}}", "k+1"),
        ('{{$x := .Meta.Message}}{{$x}}-{{$x = "b"}}{{$x}}', "hello-b"),
        ("{{if $v := .Meta.Key}}{{$v}}{{end}}", "k+1"),
        ('{{.Meta.Message | printf "%s!" | len}}', "6"),
        ('{{len .List}} {{len .Map}} {{len "é"}} {{len .Missing}}', "3 3 2 0"),
        (
            '{{index .Map "m"}} {{index .List 1}} {{index .Nested "Inner" "Value"}} [{{index .List 9}}]',
            "3 b deep []",
        ),
        ('{{(index .Nested "Inner").Value}}', "deep"),
        (
            '{{and 1 .Type}} [{{and .Flag .Type}}] {{or .Flag .Missing 0 "x"}} {{not .Flag}}',
            "HostDown [false] x true",
        ),
        ("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge .N 3}} {{lt .Missing 1}}", "true true false true false"),
        ('{{print "a" 1 2 "b"}} {{print 1 2}} [{{html 1 print}}]', "a1 2b 1 2 [1]"),
        ('{{println "a" 1}}', "a 1\n"),
        ('{{html "<a href=\\"x\\">&\'"}}', "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
        ('{{js "it\'s \\"x\\" <b> = & \\\\"}}', 'it\\\'s \\"x\\" \\u003Cb\\u003E \\u003D \\u0026 \\\\'),
        ('{{urlquery "a b&c=d/é~"}}', "a+b%26c%3Dd%2F%C3%A9~"),
        ("{{/* a comment\nover lines */}}x{{- /* trimmed */ -}} y", "xy"),
        ("a  \n {{- .Type -}} \n  b", "aHostDownb"),
        ("{{-3}} {{ -3 }}", "-3 -3"),
        (
            '{{"quoted \\"\\t\\u00e9"}} {{`raw \\n`}} {{\'a\'}} {{0x1F}} {{010}} {{1_000}} {{1.5}} {{2.0}}',
            'quoted "\té raw \\n 97 31 8 1000 1.5 2',
        ),
        ("{{true}} {{false}} {{eq .Missing nil}} {{ne .Flag nil}}", "true false true true"),
        ("{{ .Flag }} {{ .N }} {{ .Map }} {{ .List }}", "false 3 map[a:2 m:3 z:1] [a b c]"),
        (
            '{{printf "%d|%5s|%-4d|%q|%v|%t|%x|%.2f|%03d" 5 "ab" 7 "q" .List true 255 3.14159 -7}}',
            '5|   ab|7   |"q"|[a b c]|true|ff|3.14|-07',
        ),
        (
            '{{printf "%d %s" "x"}} {{printf "%s" 1 2}}',
            "%!d(string=x) %!s(MISSING) %!s(int=1)%!(EXTRA int=2)",
        ),
        (
            "{{printf .Meta}}|{{index .Map .List}}|{{html .Map}}",
            "map[Empty: HostInfo:map[MetaData:map[host_name:h1]] Key:k+1 Message:hello]||map[a:2 m:3 z:1]",
        ),
        ("literal {% raw %} {# not a comment #} {", "literal {% raw %} {# not a comment #} {"),
    ],
)
def test_go_syntax(source: str, out: str) -> None:
    assert render(source) == out


def test_dot_at_top_level_is_the_data() -> None:
    assert (
        render("{{.}} {{$}}", {"a": 1, "b": [True, None]})
        == "map[a:1 b:[true <nil>]] map[a:1 b:[true <nil>]]"
    )


def test_dot_is_the_current_item_in_range_over_maps_of_maps() -> None:
    data = {"Hosts": {"b": {"Name": "B"}, "a": {"Name": "A"}}}
    assert render("{{range .Hosts}}{{.Name}}{{end}}", data) == "AB"


def test_crlf_text_is_kept_byte_for_byte() -> None:
    assert render("a\r\n{{.Type}}\r\n") == "a\r\nHostDown\r\n"
    assert from_string('"{{.X}}"\r\n').render({"X": "q\r"}) == '"q\\r"\r\n'


def test_a_brace_before_crlf_stays_text() -> None:
    # A JSON body saved on Windows (or sent from a browser's textarea) opens with `{` then CR LF.
    windows = (TEMPLATES / "default_webhook.json").read_text().replace("\n", "\r\n")
    body = from_string(windows).render(EventMessage(Event.HostDown, HostStatusMeta("down")).template_data())
    assert json.loads(body)["event"] == "HostDown"
    assert render("{\r\n{{.Type}}}") == "{\r\nHostDown}"


def test_translation_keeps_line_numbers() -> None:
    tyk_like = TEMPLATES / "default_webhook.json"
    for source in [
        tyk_like.read_text(),
        "{{- if .A -}}\n\n x \n\n{{- end -}}\n",
        "{{/*\n\n*/}}{{ Meta.x\n }}\n",
    ]:
        assert from_string(source).jinja_source.count("\n") == source.count("\n")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{end}}", "line 1: unexpected {{end}}"),
        ("{{else}}", "line 1: unexpected {{else}}"),
        ("{{if .A}}{{else}}{{else}}{{end}}", "line 1: expected {{end}}; found {{else}}"),
        ("{{range .A}}{{else if .B}}{{end}}", "line 1: unexpected 'if' in {{else}} of {{range}}"),
        ("x\n{{with .A}}\n", "line 2: {{with}} has no matching {{end}}"),
        ("{{break}}", "line 1: {{break}} outside {{range}}"),
        ('{{template "x" .}}', "line 1: {{template}} is not supported (one template per file)"),
        ("{{ $y }}", 'line 1: undefined variable "$y"'),
        ("{{ eq .A }}", "line 1: wrong number of args for eq: want 2, got 1"),
        ("{{ not 1 2 }}", "line 1: wrong number of args for not: want 1, got 2"),
        ("{{ .A .B }}", "line 1: can't give argument to non-function .A"),
        ("{{ nil }}", "line 1: nil is not a command"),
        ("{{ (.A }}", "line 1: unclosed left paren"),
        ("{{ .A) }}", "line 1: unexpected ')' in command"),
        ("{{}}", "line 1: missing value for command"),
        ("{{ .A | }}", "line 1: missing value for command"),
        ("\n\n{{/* open", "line 3: unclosed comment"),
        ("{{/* c */ x}}", "line 1: comment ends before closing delimiter"),
        ('{{ "bad \\q" }}', 'line 1: invalid escape \\q in "bad \\q"'),
        ("{{ .Meta.Message | upper }}", 'line 1: function "upper" not defined'),
        ("{{ 1e999 }}", "line 1: number out of range: 1e999"),
        ("{{ $a, $b := .L }}", "line 1: too many declarations in command"),
        ("{{-len}}", "line 1: unexpected '-' in command"),
        ("{{ html 1 len }}", "line 1: wrong number of args for len: want 1, got 0"),
        ("{{ nil ~ 1 }}", "line 1: unexpected '~' in command"),
    ],
)
def test_syntax_errors(source: str, problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_string(source, name="t.json")
    assert str(info.value) == f"t.json: template syntax error at {problem}"


def test_load_template_reports_the_path(tmp_path: Path) -> None:
    path = tmp_path / "custom.tmpl"
    path.write_text("ok\n{{ if .A }}\n{{ range }}\n")
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert info.value.where == str(path)
    assert "line 3: missing value for command" in info.value.reason
