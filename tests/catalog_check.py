"""Webhook bodies checked against the event catalog (tests/e2e/conftest.py runs it on every delivery the
e2e suite's recorders receive): the default template's body, or a CloudEvents envelope, of its event.

A body is recognised by what it says: `"event"` naming a catalogued event with no key the default
template never writes, or `specversion` with a `type` of ours. Any other (a custom template's) is counted.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import jsonschema_rs

from gateway.events import schemas
from gateway.events.catalog import Event
from gateway.handlers import preview
from gateway.packaged import TEMPLATES
from gateway.templating.template import load_template
from gateway.testing.recorder import Delivery

_EVENT_DATA_KEYS = {"type", "api_id", "org_id", "meta"}
# Headers every delivered webhook carries (the AsyncAPI document's required message headers).
REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp")


def _validator(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for(schemas.standalone(schema, "check"), validate_formats=True)


class CatalogCheck:
    """Validators per event, built once, and what was checked: `seen` (named by a body), `recognised` and
    `validated` by event name,
    `skipped` (JSON bodies no schema applies to) and `other` (bodies that are not JSON objects)."""

    def __init__(self) -> None:
        bodies = preview.body_schemas(load_template(TEMPLATES / "default_webhook.json"))
        self.properties = {e: set(bodies[e]["properties"]) for e in Event}
        self.body = {e: _validator(bodies[e]) for e in Event}
        self.cloudevent = {
            e: _validator(schemas.cloudevents_schema(e, schemas.event_data_schema(e))) for e in Event
        }
        self.envelope = {e: _validator(schemas.cloudevents_schema(e, {})) for e in Event}  # any data
        self.recognised: Counter[str] = Counter()
        self.validated: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()
        self.skipped = 0
        self.other = 0

    def check(self, delivery: Delivery) -> list[str]:
        """The schema errors of one delivery ([] when it passes or is not recognised)."""
        try:
            doc = json.loads(delivery.body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            self.other += 1
            return []
        if "specversion" in doc:
            return self._cloudevent(doc, delivery)
        event = self._default_body(doc)
        if event is None:
            self.skipped += 1
            return []
        return self._judge(event, self.body[event], doc, delivery, "webhook_body")

    def _default_body(self, doc: dict[str, Any]) -> Event | None:
        name = doc.get("event")
        if isinstance(name, str) and name in Event.__members__:
            self.seen[name] += 1
            event = Event(name)
            if set(doc) <= self.properties[event]:
                return event
        return None

    def _cloudevent(self, doc: dict[str, Any], delivery: Delivery) -> list[str]:
        kind = str(doc.get("type", ""))
        name = kind.removeprefix(schemas.CLOUDEVENTS_TYPE_PREFIX)
        if name == kind or name not in Event.__members__:
            self.skipped += 1
            return []
        event = Event(name)
        self.seen[name] += 1
        data = doc.get("data")
        if isinstance(data, dict) and set(data) == _EVENT_DATA_KEYS:
            return self._judge(event, self.cloudevent[event], doc, delivery, "cloudevents")
        problems = self._judge(event, self.envelope[event], doc, delivery, "cloudevents envelope")
        inner = self._default_body(data) if isinstance(data, dict) else None
        if inner is not None:  # data is a template's output: the default template's, when recognised
            errors = self.body[inner].iter_errors(data)
            problems += [
                f"{inner} data at /{'/'.join(map(str, e.instance_path))}: {e.message}" for e in errors
            ]
        return problems

    def _judge(self, event: Event, validator: Any, doc: Any, delivery: Delivery, what: str) -> list[str]:
        self.recognised[str(event)] += 1
        problems = [
            f"{event} {what} at /{'/'.join(map(str, e.instance_path))}: {e.message}"
            for e in validator.iter_errors(doc)
        ]
        problems += [f"{event}: header {h} missing" for h in REQUIRED_HEADERS if h not in delivery.headers]
        self.validated[str(event)] += 1  # only once the validator ran to its end
        return problems

    def unvalidated(self) -> list[str]:
        """Events seen in a body but never validated (every such body was a custom template's)."""
        return sorted(name for name in self.seen if not self.validated[name])
