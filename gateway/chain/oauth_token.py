"""One upstream OAuth token request, as golang.org/x/oauth2 makes it for Tyk: the form, the client
authentication (HTTP basic first, then form fields when the method is auto), the JSON or form answer,
and Go's error texts, which become the UpstreamOAuthError message and the client's 500.

It only talks to the token endpoint: caching and events belong to upstream_auth.py.
"""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote

import httpx

from gateway.apidef.model import UpstreamOAuthSpec

BASIC, POST = "client_secret_basic", "client_secret_post"
# Go keeps up to 1 MiB of an error body in the message; a client error body needs far less.
BODY_SHOWN = 512
_FORM_TYPES = ("application/x-www-form-urlencoded", "text/plain")


class TokenError(Exception):
    """Any failure to obtain a token; str() is the text the event and the client see."""


class RetrieveError(TokenError):
    """The token endpoint answered with a non-2xx status (the only failure auto-detection retries)."""


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str = field(repr=False)
    expires_in: float = 0.0  # seconds; 0 = the server gave no lifetime
    token_type: str = ""
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # every field, for extra_metadata


def form(spec: UpstreamOAuthSpec) -> dict[str, str]:
    """The grant's form fields (client authentication excluded)."""
    if spec.grant == "password":
        fields = {"grant_type": "password", "username": spec.username, "password": spec.password}
    else:
        fields = {"grant_type": "client_credentials"}
    if spec.scopes:
        fields["scope"] = " ".join(spec.scopes)
    return fields


async def fetch(http: httpx.AsyncClient, spec: UpstreamOAuthSpec, method: str) -> Token:
    """One request with `method` (BASIC or POST); TokenError with Go's text on any failure."""
    fields = form(spec)
    headers = {"Accept": "application/json"}
    if method == BASIC:
        # Go's oauth2 query-escapes both halves before basic auth (RFC 6749 section 2.3.1).
        raw = f"{quote(spec.client_id, safe='')}:{quote(spec.client_secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(raw.encode()).decode()
    else:
        fields["client_id"] = spec.client_id
        if spec.client_secret:
            fields["client_secret"] = spec.client_secret
    try:
        response = await http.post(spec.token_url, data=fields, headers=headers)
    except httpx.HTTPError as exc:
        raise TokenError(f'Post "{spec.token_url}": {_describe(exc)}') from exc
    return parse(response)


def parse(response: httpx.Response) -> Token:
    body = response.content
    if not 200 <= response.status_code <= 299:
        raise RetrieveError(_retrieve_text(response, body))
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    data: Any
    if media in _FORM_TYPES:
        data = dict(parse_qsl(body.decode("utf-8", "replace")))
    else:
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise TokenError(f"oauth2: cannot parse json: {exc}") from None
        if not isinstance(data, dict):
            raise TokenError(f"oauth2: cannot parse json: expected an object, got {_short(body)}")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise TokenError("oauth2: server response missing access_token")
    if not access.isascii() or not access.isprintable():
        # It goes into a header: control characters would split it (RFC 6750 allows none).
        raise TokenError("oauth2: server response has an access_token that cannot be sent in a header")
    token_type = data.get("token_type")
    return Token(
        access_token=access,
        expires_in=_expires_in(data.get("expires_in")),
        token_type=token_type if isinstance(token_type, str) else "",
        extra=data,
    )


def _expires_in(value: Any) -> float:
    # Go accepts a number or a numeric string; anything else (or <= 0) means "no lifetime given".
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return float(value) if value > 0 else 0.0


def _retrieve_text(response: httpx.Response, body: bytes) -> str:
    """Go's RetrieveError text: the RFC 6749 error code when the body has one, else status and body."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data["error"]:
        text = f"oauth2: {json.dumps(data['error'])}"
        for key in ("error_description", "error_uri"):
            if isinstance(data.get(key), str) and data[key]:
                text += f" {json.dumps(data[key])}"
        return text
    status = f"{response.status_code} {response.reason_phrase}".strip()
    return f"oauth2: cannot fetch token: {status}\nResponse: {_short(body)}"


def _short(body: bytes) -> str:
    text = body[:BODY_SHOWN].decode("utf-8", "replace")
    return text + "..." if len(body) > BODY_SHOWN else text


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    return str(exc) or type(exc).__name__
