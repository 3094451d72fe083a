"""Webhook and error templates: every event through our default template, Tyk's own templates, escaping."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import ConfigError, HandlerError, render_error
from gateway.events.catalog import (
    META_TYPES,
    AuthFailureMeta,
    CertExpiringMeta,
    Event,
    EventMessage,
    EventMeta,
    HostStatusMeta,
    MapMeta,
)
from gateway.packaged import TEMPLATES
from gateway.templating.template import ErrorPages, Template, from_string, load_template
from tests.corpus import CORPUS as TYK_CORPUS

CORPUS = (TYK_CORPUS or Path("/nonexistent")) / "templates"
needs_corpus = pytest.mark.skipif(TYK_CORPUS is None, reason="Tyk corpus not found (set TYK_CORPUS)")

STAMP = datetime(2026, 8, 21, 12, 39, 47, 123456, tzinfo=UTC)
EXPIRY = datetime(2026, 9, 1, 8, 0, 0, tzinfo=UTC)
HOST_INFO = {
    "CheckURL": "http://upstream.test/health",
    "ResponseCode": 500,
    "IsTCPError": False,
    "Latency": 12.5,
    "MetaData": {"host_name": "upstream.test", "api_id": "api-7", "target_url": "http://upstream.test"},
}


def sample_meta(event: Event, **overrides: Any) -> EventMeta:
    """A meta of the event's type with a distinct, recognisable value in every field."""
    cls = META_TYPES[event]
    values: dict[str, Any] = {"message": f"{event} happened"}
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.name in ("message", "originating_request"):
            continue
        if isinstance(default, str):
            values[f.name] = f"{f.name}-v"
        elif isinstance(default, int):
            values[f.name] = 7
        elif isinstance(default, datetime):
            values[f.name] = EXPIRY
    if cls is HostStatusMeta:
        values["host_info"] = HOST_INFO
    if cls is MapMeta:
        values["values"] = {"path": "/x", "method": "GET"}
    values.update(overrides)
    return cls(**values)


def message(event: Event, **overrides: Any) -> EventMessage:
    return EventMessage(type=event, meta=sample_meta(event, **overrides), api_id="api-7", timestamp=STAMP)


def expected(msg: EventMessage) -> dict[str, Any]:
    """The fields a default webhook body carries for this event (TYK-REFERENCE section 4)."""
    meta, kind = msg.meta.go_fields(), Event(msg.type)
    base = {"event": str(kind), "message": meta["Message"]}
    if kind in (Event.HostDown, Event.HostUp):
        return base | {
            "url": HOST_INFO["CheckURL"],
            "response_code": "500",
            "tcp_error": "false",
            "host": "upstream.test",
            "api_id": "api-7",
        }
    if kind is Event.TriggerExceeded:
        return base | {"org": meta["OrgID"], "key": meta["Key"], "trigger_limit": str(meta["TriggerLimit"])}
    if kind in (Event.BreakerTriggered, Event.BreakerTripped, Event.BreakerReset):
        breaker = base | {"api_id": meta["APIID"], "path": meta["Path"]}
        return breaker | {"Status": str(meta["CircuitEvent"])} if kind is Event.BreakerTriggered else breaker
    if kind is Event.UpstreamOAuthError:
        return base | {"api_id": meta["APIID"]}
    if kind in (Event.CertificateExpiringSoon, Event.CertificateExpired):
        soon = kind is Event.CertificateExpiringSoon
        cert = base | {
            "cert_id": meta["CertID"],
            "cert_name": meta["CertName"],
            "cert_role": meta["CertRole"],
        }
        cert |= {"expires_at": "2026-09-01T08:00:00Z"} if soon else {"expired_at": "2026-09-01T08:00:00Z"}
        cert |= {"days_remaining": 7} if soon else {"days_since_expiry": 7}
        return (
            cert
            | ({"api_id": meta["APIID"]} if meta["APIID"] else {})
            | {"timestamp": "2026-08-21T12:39:47Z"}
        )
    if kind in (Event.TokenCreated, Event.TokenUpdated, Event.TokenDeleted):
        return base | {"org": meta["Org"], "key": meta["Key"]}
    return base | {"path": meta.get("Path", ""), "origin": meta.get("Origin", ""), "key": meta.get("Key", "")}


def render_json(template: Template, msg: EventMessage) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(template.render(msg.template_data()))
    return result


@pytest.fixture(scope="module")
def default() -> Template:
    return load_template(TEMPLATES / "default_webhook.json")


@pytest.mark.parametrize("event", list(Event))
def test_every_event_renders_valid_json_with_its_fields(default: Template, event: Event) -> None:
    msg = message(event)
    assert render_json(default, msg) == expected(msg)


@pytest.mark.parametrize("event", [Event.CertificateExpiringSoon, Event.CertificateExpired])
def test_certificate_api_id_only_when_set(default: Template, event: Event) -> None:
    body = render_json(default, message(event, api_id=""))
    assert "api_id" not in body
    assert body == expected(message(event, api_id=""))


def test_default_template_is_json_escaped_and_output_is_clean(default: Template) -> None:
    assert default.is_json and default.path.endswith("default_webhook.json")
    text = default.render(message(Event.BreakerTripped).template_data())
    assert text.startswith("{\n") and text.endswith("}\n")


@pytest.mark.parametrize("name", ["monitor_template.json", "breaker_webhook.json"])
def test_shipped_single_purpose_templates(name: str) -> None:
    event = Event.TriggerExceeded if name.startswith("monitor") else Event.BreakerTriggered
    msg = message(event)
    assert render_json(load_template(TEMPLATES / name), msg) == expected(msg)


HOSTILE = 'say "hi" \\ back\nslash + plus </x> \t\x01 é'


@pytest.mark.parametrize("event", [Event.AuthFailure, Event.UpstreamOAuthError, Event.CertificateExpired])
def test_hostile_message_and_key_stay_valid_json(default: Template, event: Event) -> None:
    extra = {"key": HOSTILE} if event is Event.AuthFailure else {}
    body = render_json(default, message(event, message=HOSTILE, **extra))
    assert body["message"] == HOSTILE
    if extra:
        assert body["key"] == HOSTILE


def test_non_json_templates_insert_values_raw(tmp_path: Path) -> None:
    path = tmp_path / "hook.txt"
    path.write_text("msg={{.Meta.Message}}\n")
    template = load_template(path)
    assert not template.is_json
    assert template.render(message(Event.AuthFailure, message=HOSTILE).template_data()) == f"msg={HOSTILE}\n"
    forced = load_template(path, json_escape=True)
    assert forced.render({"Meta": {"Message": 'a"b'}}) == 'msg=a\\"b\n'
    assert from_string("{{.X}}", json_escape=False).render({"X": 'a"b'}) == 'a"b'
    assert from_string("{{.X}}").render({"X": 'a"b'}) == 'a\\"b'


def test_legacy_v19_names() -> None:
    template = from_string(
        '{"e": "{{.EventType}}", "m": "{{.EventMetaData.Message}}", "k": "{{.EventMetaData.Key}}"}'
    )
    msg = message(Event.AuthFailure)
    assert json.loads(template.render(msg.template_data())) == {
        "e": "AuthFailure",
        "m": "AuthFailure happened",
        "k": "key-v",
    }


def test_jinja_expressions_pass_through() -> None:
    template = from_string("{{ Meta.Message }}|{{ Type ~ '!' }}|{{ Meta.Missing.Deeper }}|{{ .Type }}")
    assert template.render(message(Event.HostUp).template_data()) == "HostUp happened|HostUp!||HostUp"


def test_missing_field_renders_empty_and_is_false() -> None:
    template = from_string("[{{.Meta.Path}}]{{if .Meta.Path}}yes{{else}}no{{end}}[{{.Nope.Deeper}}]")
    assert template.render(message(Event.TokenCreated).template_data()) == "[]no[]"


# Tyk's shipped templates, read from the corpus (never copied): they must render unchanged.

TYK_DEFAULT_BRANCHES = [
    Event.HostDown,
    Event.HostUp,
    Event.TriggerExceeded,
    Event.BreakerTriggered,
    Event.BreakerTripped,
    Event.BreakerReset,
    Event.CertificateExpiringSoon,
    Event.CertificateExpired,
    Event.AuthFailure,  # the else branch
    Event.QuotaExceeded,
]


@needs_corpus
@pytest.mark.parametrize("event", TYK_DEFAULT_BRANCHES)
def test_tyk_default_template_renders_each_branch(event: Event) -> None:
    msg = message(event)
    assert render_json(load_template(CORPUS / "default_webhook.json"), msg) == expected(msg)


@needs_corpus
def test_tyk_default_template_upstream_oauth_renders_its_broken_json() -> None:
    text = load_template(CORPUS / "default_webhook.json").render(
        message(Event.UpstreamOAuthError).template_data()
    )
    assert '"api_id": "api_id-v",\n}' in text  # Tyk's trailing comma, reproduced faithfully
    assert '"message": "UpstreamOAuthError happened"' in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@needs_corpus
def test_tyk_default_template_whitespace_is_byte_exact() -> None:
    text = load_template(CORPUS / "default_webhook.json").render(message(Event.BreakerReset).template_data())
    assert text == (
        '\n{\n    "event": "BreakerReset",\n    "message": "BreakerReset happened",\n'
        '    "api_id": "api_id-v",\n    "path": "path-v"\n}\n\n\n'
    )


@needs_corpus
def test_tyk_default_template_token_events_render_where_tyk_fails() -> None:
    body = render_json(load_template(CORPUS / "default_webhook.json"), message(Event.TokenDeleted))
    assert body == {
        "event": "TokenDeleted",
        "message": "TokenDeleted happened",
        "path": "",
        "origin": "",
        "key": "key-v",
    }


@needs_corpus
@pytest.mark.parametrize(
    ("name", "event"),
    [("monitor_template.json", Event.TriggerExceeded), ("breaker_webhook.json", Event.BreakerTriggered)],
)
def test_tyk_single_purpose_templates(name: str, event: Event) -> None:
    msg = message(event)
    assert render_json(load_template(CORPUS / name), msg) == expected(msg)


MESSAGES = [
    "Access to this API has been disallowed",
    'quote " back \\ nl \n <&> é',
    "failed to get OAuth token: x+y",
]


@pytest.mark.parametrize("text", MESSAGES)
@pytest.mark.parametrize("xml", [False, True])
def test_error_pages_are_byte_exact_with_tyk(text: str, xml: bool) -> None:
    assert ErrorPages(TEMPLATES).render(text, xml) == render_error(text, xml)
    assert ErrorPages(TEMPLATES / "missing-dir").render(text, xml) == render_error(text, xml)


@needs_corpus
@pytest.mark.parametrize("text", MESSAGES)
def test_error_pages_with_tyk_error_json(text: str) -> None:
    assert ErrorPages(CORPUS).render(text, False) == render_error(text, False)


def test_shipped_error_templates_bytes() -> None:
    assert (TEMPLATES / "error.json").read_bytes() == b'{\n    "error": "{{.Message}}"\n}'
    assert (TEMPLATES / "error.xml").read_bytes() == (
        b'<?xml version = "1.0" encoding = "UTF-8"?>\n<error>{{.Message}}</error>'
    )


def test_error_pages_use_custom_files_and_cache(tmp_path: Path) -> None:
    (tmp_path / "error.json").write_text('{"oops": "{{.Message}}", "n": {{len .Message}}}')
    pages = ErrorPages(tmp_path)
    body, content_type = pages.render('a"b')
    assert content_type == b"application/json"
    assert json.loads(body) == {"oops": 'a"b', "n": 3}
    assert pages.render('a"b') is pages.render('a"b')
    assert pages.render("x", True) == render_error("x", True)  # no error.xml: Tyk's own


def test_error_pages_reject_a_broken_template_at_load(tmp_path: Path) -> None:
    (tmp_path / "error.xml").write_text("<e>{{if .Message}}</e>")
    with pytest.raises(ConfigError, match=r"error\.xml: template syntax error at line 1"):
        ErrorPages(tmp_path)


# Load-time errors name the file; render-time problems never raise anything but HandlerError.


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            '{\n  "a": "{{.Meta.Message}",\n  "b": 1\n}',
            'line 2: unterminated quoted string (is a closing "}}" missing?)',
        ),
        ("x\n{{ .A", "line 2: unclosed action"),
        ("a\n\n{{ if .Type }}\nx\n", "line 3: {{if}} has no matching {{end}}"),
        ("{{- if .X -}}\n\n\n{{- end}}\n{{ .X | nosuch }}", 'line 5: function "nosuch" not defined'),
    ],
)
def test_syntax_errors_name_file_and_line(tmp_path: Path, source: str, problem: str) -> None:
    path = tmp_path / "hook.json"
    path.write_text(source)
    with pytest.raises(ConfigError) as info:
        load_template(path)
    assert info.value.where == str(path)
    assert str(info.value) == f"{path}: template syntax error at {problem}"


def test_unreadable_or_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.json: template file not found"):
        load_template(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="cannot read template"):
        load_template(tmp_path)
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe{{.X}}")
    with pytest.raises(ConfigError, match=r"bin\.json: cannot read template"):
        load_template(tmp_path / "bin.json")


def test_runtime_errors_become_handler_errors() -> None:
    template = from_string("{{ Meta.Count // 0 }}", name="hook.json")
    with pytest.raises(HandlerError, match=r"hook\.json: template rendering error"):
        template.render({"Meta": {"Count": 3}})


def test_template_data_for_every_meta_type_is_renderable(default: Template) -> None:
    meta = CertExpiringMeta("m", expires_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert "2026-01-02T03:04:05Z" in default.render(
        EventMessage(Event.CertificateExpiringSoon, meta).template_data()
    )
    plain = AuthFailureMeta("Auth Failure")
    assert render_json(default, EventMessage(Event.AuthFailure, plain))["path"] == ""
