"""Templates rendered against sample events, as a webhook handler would render them, without sending:
`POST /tyk/templates/preview` and the webhook body schemas of the event catalog (the default template).

Template files are found only as a handler finds them (packaged.find_template: inside tyk.conf
`template_path` or the packaged templates). Every problem is a PreviewError naming the request's field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.errors import ConfigError, HandlerError
from gateway.events import schemas
from gateway.events.catalog import Event, EventMessage
from gateway.packaged import find_template
from gateway.templating.template import Template, from_string, load_template

MAX_TEMPLATE = 256 * 1024  # an inline template past this is no webhook body


class PreviewError(ValueError):
    """A preview request the gateway cannot render: the message names the field and the value."""


def default_template(config_dir: str, template_dir: str) -> Template:
    """The template a webhook without `template_path` renders: template_path's default_webhook.json, else
    the packaged one."""
    return load_template(find_template(None, "default webhook template", config_dir, template_dir))


def body_schemas(template: Template) -> dict[Event, dict[str, Any]]:
    """The JSON Schema of the body `template` renders, per event (see events/schemas.body_schema)."""

    def render(msg: EventMessage) -> str:
        return template.render(msg.template_data())

    return {event: schemas.body_schema(event, render, _parse) for event in Event}


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # not JSON: the schema says so (any value)


def preview(body: Mapping[str, Any], config_dir: str, template_dir: str) -> dict[str, Any]:
    """`{"event", "template" | "template_path", "meta"?, "json_escape"?}` rendered: `{"event", "body",
    "content_type", "meta"}` (meta: the sample's fields as the template saw them)."""
    name = body.get("event")
    if not isinstance(name, str) or name not in Event.__members__:
        raise PreviewError(f"event: {name!r} is not an event of the catalog (GET /tyk/events/catalog)")
    event = Event(name)
    overrides = body.get("meta", {})
    if not isinstance(overrides, dict):
        raise PreviewError(f"meta: expected an object of fields by Go name, got {overrides!r}")
    try:
        msg = schemas.sample_event(event, overrides)
    except ValueError as exc:
        raise PreviewError(str(exc)) from None
    template = _template(body, config_dir, template_dir)
    try:
        rendered = template.render(msg.template_data())
    except HandlerError as exc:
        raise PreviewError(f"template: {exc}") from None
    return {
        "event": name,
        "body": rendered,
        # As the handler sends it: a JSON template's body is application/json, any other carries none.
        "content_type": "application/json" if template.is_json else None,
        "meta": {k: v.isoformat() if isinstance(v, datetime) else v for k, v in msg.meta.go_fields().items()},
    }


def _template(body: Mapping[str, Any], config_dir: str, template_dir: str) -> Template:
    text, path = body.get("template"), body.get("template_path")
    if (text is None) == (path is None):
        raise PreviewError("template: give exactly one of template (the text) and template_path (a file)")
    escape = body.get("json_escape")
    if escape is not None and not isinstance(escape, bool):
        raise PreviewError(f"json_escape: expected true or false, got {escape!r}")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_TEMPLATE:
            shown = repr(text)[:80]
            raise PreviewError(
                f"template: expected a string of at most {MAX_TEMPLATE} characters, got {shown}"
            )
        try:
            return from_string(text, name="template", json_escape=True if escape is None else escape)
        except ConfigError as exc:  # "template: template syntax error at line N: <the parser's message>"
            raise PreviewError(str(exc)) from None
    if not isinstance(path, str) or not path:
        raise PreviewError(f"template_path: expected a file name under template_path, got {path!r}")
    try:  # Refused (outside template_path) or not found: the message names "template_path" and the value
        found = find_template(path, "", config_dir, template_dir)
    except ConfigError as exc:
        raise PreviewError(str(exc)) from None
    try:
        return load_template(found, json_escape=escape)
    except ConfigError as exc:  # a syntax error, naming the file and the line
        raise PreviewError(f"template_path: {exc}") from None
