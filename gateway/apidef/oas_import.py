"""Tyk's import of a plain OpenAPI document (`POST /tyk/apis/oas/import`, `PATCH /tyk/apis/oas/{id}`): the
query parameters (`upstreamURL`, `listenPath`, `customDomain`, `apiID`, `authentication`, `allowList`,
`validateRequest`, `mockResponse`) turned into an `x-tyk-api-gateway` extension, with Tyk's messages.
Pure: dicts in, dicts out; whether the result is servable is the parser's to say, not this module's.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

EXT = "x-tyk-api-gateway"
STRINGS = ("upstreamURL", "listenPath", "customDomain", "apiID")
FLAGS = ("authentication", "allowList", "validateRequest", "mockResponse")
# Go's strconv.ParseBool; any other value counts as not given, as in Tyk.
_BOOLS = dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True) | dict.fromkeys(
    ("0", "f", "F", "FALSE", "false", "False"), False
)
_VARIABLE = re.compile(r"\{([^{}]*)\}")
NO_SERVERS = (
    "The \u2018servers\u2019 object is empty in your OAS. You can either add a \u2018servers\u2019 section "
    "to your OpenAPI description or provide a Custom Upstream URL in the manual configuration options below."
)
BAD_MANUAL_URL = (
    "The manually configured upstream URL is not valid. The URL must be absolute and properly formatted "
    "(e.g. https://example.com). Please check the URL format and try again."
)
BAD_SERVER_URL = (
    "The first entry in the \u2018servers\u2019 object of your OAS is not valid. The URL must be absolute "
    "and properly formatted (e.g. https://example.com). Please check the URL format and try again."
)
NO_SECURITY = (
    "The \u2018security\u2019 object is empty in your OAS. When enabling authentication, your OpenAPI "
    "description must include a \u2018security\u2019 object that defines the authentication schemes. You "
    "can either add a \u2018security\u2019 object or disable authentication in the API settings."
)


class ImportRefused(ValueError):
    """A parameter or document Tyk's import refuses; the message is Tyk's."""


def params(query: Mapping[str, str]) -> dict[str, Any]:
    """The parameters given: strings trimmed (empty = not given), booleans parsed as Go parses them."""
    given: dict[str, Any] = {name: query[name].strip() for name in STRINGS if query.get(name, "").strip()}
    for name in FLAGS:
        value = _BOOLS.get(query.get(name, "").strip())
        if value is not None:
            given[name] = value
    return given


def document_error(doc: Any) -> str:
    """What makes `doc` not an OpenAPI 3 document, worded like Tyk's schema check; "" when it is one."""
    if not isinstance(doc, dict):
        return "(root): Invalid type. Expected: object"
    for name, kind, python in (
        ("openapi", "string", str),
        ("info", "object", dict),
        ("paths", "object", dict),
    ):
        if name not in doc:
            return f"(root): {name} is required"
        if not isinstance(doc[name], python):
            return f"{name}: Invalid type. Expected: {kind}, given: {_go_type(doc[name])}"
    if not re.fullmatch(r"3\.[01]\.\d+(-.+)?", doc["openapi"]):
        return f"openapi: Does not match pattern '^3\\.[01]\\.\\d+(-.+)?$', given: {doc['openapi']!r}"
    return ""


def build(doc: dict[str, Any], given: Mapping[str, Any], importing: bool) -> dict[str, Any]:
    """`doc` with its extension made from `given`: on import from Tyk's defaults, on PATCH from the
    extension it has. Raises ImportRefused with Tyk's message."""
    out = copy.deepcopy(doc)
    ext = out.setdefault(EXT, {})
    info, server = ext.setdefault("info", {}), ext.setdefault("server", {})
    listen = server.setdefault("listenPath", {})
    if importing:
        info.setdefault("state", {"active": True, "internal": False})
        listen["strip"] = True
        for name in ("contextVariables", "trafficLogs"):
            ext.setdefault("middleware", {}).setdefault("global", {}).setdefault(name, {"enabled": True})
    if not info.get("name"):
        info["name"] = out["info"].get("title", "")
    if "apiID" in given:
        info["id"] = given["apiID"]
    if "listenPath" in given or not listen.get("value"):
        listen["value"] = given.get("listenPath") or listen.get("value") or "/"
    if "customDomain" in given:
        server["customDomain"] = {"enabled": True, "name": given["customDomain"]}
    if importing or "upstreamURL" in given:
        ext.setdefault("upstream", {})["url"] = _upstream(out, given.get("upstreamURL"))
    if "authentication" in given:
        server["authentication"] = _authentication(out, server.get("authentication"), given["authentication"])
    _operations(out, ext, given)
    return out


def _upstream(doc: dict[str, Any], manual: str | None) -> str:
    if manual is not None:
        if not _absolute(manual):
            raise ImportRefused(BAD_MANUAL_URL)
        return manual
    servers = doc.get("servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        raise ImportRefused(NO_SERVERS)
    server = servers[0]
    url = str(server.get("url", ""))
    variables = server.get("variables")
    variables = variables if isinstance(variables, dict) else {}
    for name in _VARIABLE.findall(url):
        variable = variables.get(name)
        if not isinstance(variable, dict):
            raise ImportRefused("server URL contains undefined variables")
        if not isinstance(variable.get("default"), str):
            raise ImportRefused(f"server variable {name} does not have a default value")
        url = url.replace("{" + name + "}", variable["default"])
    if not _absolute(url):
        raise ImportRefused(f'{BAD_SERVER_URL} Please update "{url}" to be a valid URL and try again.')
    return url


def _absolute(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed IPv6 literal
        return False
    return bool(parts.scheme and parts.netloc)


def _authentication(doc: dict[str, Any], current: Any, enabled: bool) -> dict[str, Any]:
    requirements = doc.get("security")
    if not isinstance(requirements, list) or not requirements:
        raise ImportRefused(NO_SECURITY)
    auth = dict(current) if isinstance(current, dict) else {}
    auth["enabled"] = enabled
    schemes = auth.setdefault("securitySchemes", {})
    for requirement in requirements:
        for name in requirement if isinstance(requirement, dict) else ():
            schemes[name] = {**schemes.get(name, {}), "enabled": enabled}
    return auth


def _operations(doc: dict[str, Any], ext: dict[str, Any], given: Mapping[str, Any]) -> None:
    """Tyk's per-operation switches, keyed by operationId or `<path without its slash><METHOD>`."""
    if not any(name in given for name in ("allowList", "validateRequest", "mockResponse")):
        return
    operations = ext.setdefault("middleware", {}).setdefault("operations", {})
    for path, item in doc["paths"].items():
        for method, op in item.items() if isinstance(item, dict) else ():
            if not isinstance(op, dict) or method.lower() not in _METHODS:
                continue
            entry = operations.setdefault(op.get("operationId") or path.lstrip("/") + method.upper(), {})
            if "allowList" in given:
                entry["allow"] = {"enabled": given["allowList"]}
            if "validateRequest" in given and (
                op.get("parameters") or item.get("parameters") or _json_body(op)
            ):
                entry["validateRequest"] = {"enabled": given["validateRequest"], "errorResponseCode": 422}
            if "mockResponse" in given and _has_examples(op):
                flag = given["mockResponse"]
                entry["mockResponse"] = {"enabled": flag, "fromOASExamples": {"enabled": flag}}


_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _json_body(op: dict[str, Any]) -> bool:
    body = op.get("requestBody")
    return isinstance(body, dict) and "application/json" in (body.get("content") or {})


def _has_examples(op: dict[str, Any]) -> bool:
    for response in (op.get("responses") or {}).values():
        for media in ((response or {}).get("content") or {}).values() if isinstance(response, dict) else ():
            if isinstance(media, dict) and any(k in media for k in ("example", "examples", "schema")):
                return True
    return False


def _go_type(value: Any) -> str:
    if value is None:
        return "null"
    for python, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
    ):
        if isinstance(value, python):
            return name
    return "object"
