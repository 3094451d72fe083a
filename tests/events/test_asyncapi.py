"""The AsyncAPI 3.0 document holds the specification's required structure (no validator is installed:
the required fields are checked here, and every `$ref` resolves), a `send` operation per event."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from gateway.events.asyncapi import asyncapi
from gateway.events.catalog import Event
from gateway.handlers import preview
from gateway.packaged import TEMPLATES
from gateway.templating.template import load_template

RETRY = {"max_attempts": 40, "max_elapsed": 3600.0, "base_delay": 1.0, "max_delay": 600.0}
DOC = asyncapi(preview.body_schemas(load_template(TEMPLATES / "default_webhook.json")), "1.2.3", RETRY)
# AsyncAPI 3.0's security scheme types.
SCHEME_TYPES = {
    "userPassword", "apiKey", "X509", "symmetricEncryption", "asymmetricEncryption", "httpApiKey", "http",
    "oauth2", "openIdConnect", "plain", "scramSha256", "scramSha512", "gssapi",
}  # fmt: skip


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = DOC
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve (at {part!r})"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [
            r for v in node.values() for r in refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_the_root_and_info_have_what_asyncapi_3_requires() -> None:
    assert json.loads(json.dumps(DOC, allow_nan=False)) == DOC
    assert DOC["asyncapi"] == "3.0.0"
    assert DOC["info"]["title"] and DOC["info"]["version"] == "1.2.3"
    assert set(DOC) <= {
        "asyncapi",
        "id",
        "info",
        "servers",
        "defaultContentType",
        "channels",
        "operations",
        "components",
    }


def test_every_ref_resolves() -> None:
    found = refs(DOC)
    assert len(found) > 4 * len(Event)
    for ref in found:
        resolve(ref)


def test_a_channel_and_a_send_operation_per_event_with_its_messages() -> None:
    assert set(DOC["channels"]) == {str(e) for e in Event}
    for name, channel in DOC["channels"].items():
        assert "address" in channel and (channel["address"] is None or isinstance(channel["address"], str))
        assert set(channel["messages"]) == {name, f"{name}CloudEvent"}
        operation = DOC["operations"][f"send{name}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        # The specification: an operation's messages are references into its own channel's messages.
        assert all(m["$ref"].startswith(f"#/channels/{name}/messages/") for m in operation["messages"])
        for scheme in operation["security"]:
            assert resolve(scheme["$ref"])["type"] in SCHEME_TYPES
    assert len(DOC["operations"]) == len(Event)


def test_messages_carry_payload_schemas_the_signing_headers_and_content_types() -> None:
    components = DOC["components"]
    for name, message in components["messages"].items():
        payload = resolve(message["payload"]["$ref"])
        assert jsonschema_rs.meta.is_valid(
            {"$schema": "https://json-schema.org/draft/2020-12/schema", **payload}
        )
        expected = "application/cloudevents+json" if name.endswith("CloudEvent") else "application/json"
        assert message["contentType"] == expected
    headers = components["schemas"]["WebhookHeaders"]
    assert {"webhook-id", "webhook-timestamp", "webhook-signature", "X-Request-ID"} <= set(
        headers["properties"]
    )
    signature = headers["properties"]["webhook-signature"]["description"]
    assert "v1," in signature and "v1a," in signature
    ratelimit = resolve("#/components/schemas/RatelimitExceededCloudEvent")
    assert ratelimit["properties"]["type"] == {"const": "io.tyk.gateway.RatelimitExceeded"}


def test_the_retry_policy_is_tyk_confs() -> None:
    trait = DOC["components"]["operationTraits"]["webhook"]
    assert trait["x-retry-policy"] == RETRY
    assert "40 attempts within 3600.0 s" in trait["description"]
