"""The token request against a real token endpoint: the grant forms, both client authentication
methods, both answer encodings, and Go's error texts for every way it can fail."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.apidef.model import UpstreamOAuthSpec
from gateway.chain.oauth_token import BASIC, POST, RetrieveError, TokenError, fetch
from gateway.testing import serve, unused_port
from tests.token_server import TokenServer

CC = UpstreamOAuthSpec(
    grant="clientCredentials",
    client_id="my id",
    client_secret="s3cr:t/+",
    token_url="http://placeholder/token",
    scopes=("read", "write"),
)
PW = dataclasses.replace(CC, grant="password", username="alice", password="pa ss", scopes=())


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


async def test_client_credentials_with_http_basic(http: httpx.AsyncClient) -> None:
    server = TokenServer(expires_in=120, extra={"instance": "eu"})
    async with serve(server) as s:
        token = await fetch(http, dataclasses.replace(CC, token_url=s.url + "/token"), BASIC)
    assert (token.access_token, token.expires_in, token.token_type) == ("tok-1", 120.0, "Bearer")
    assert token.extra["instance"] == "eu"
    (request,) = server.requests
    assert request.path == "/token"
    assert request.form == {"grant_type": "client_credentials", "scope": "read write"}
    assert request.basic == ("my id", "s3cr:t/+")  # escaped on the wire, as Go's oauth2 does
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


async def test_password_grant_with_form_credentials(http: httpx.AsyncClient) -> None:
    server = TokenServer(form_response=True)
    async with serve(server) as s:
        token = await fetch(http, dataclasses.replace(PW, token_url=s.url + "/t"), POST)
    assert (token.access_token, token.expires_in) == ("tok-1", 3600.0)
    (request,) = server.requests
    assert request.basic is None
    assert request.form == {
        "grant_type": "password",
        "username": "alice",
        "password": "pa ss",
        "client_id": "my id",
        "client_secret": "s3cr:t/+",
    }


@pytest.mark.parametrize(
    ("server", "error", "text"),
    [
        (
            TokenServer(fail_status=401, fail_body=b"nope", fail_content_type=b"text/plain"),
            RetrieveError,
            "oauth2: cannot fetch token: 401 Unauthorized\nResponse: nope",
        ),
        (TokenServer(fail_status=400), RetrieveError, 'oauth2: "invalid_client" "bad secret"'),
        (
            TokenServer(fail_status=503, fail_body=b"x" * 600),
            RetrieveError,
            "oauth2: cannot fetch token: 503 Service Unavailable\nResponse: " + "x" * 512 + "...",
        ),
        (TokenServer(body=b"<html>"), TokenError, "oauth2: cannot parse json: Expecting value"),
        (
            TokenServer(body=b'{"token_type":"Bearer"}'),
            TokenError,
            "oauth2: server response missing access_token",
        ),
        (TokenServer(body=b"[1]"), TokenError, "oauth2: cannot parse json: expected an object, got [1]"),
        (
            TokenServer(body=b'{"access_token":"a\\r\\nX-Evil: 1"}'),
            TokenError,
            "oauth2: server response has an access_token that cannot be sent in a header",
        ),
    ],
)
async def test_failures_carry_gos_texts(
    http: httpx.AsyncClient, server: TokenServer, error: type[Exception], text: str
) -> None:
    async with serve(server) as s:
        with pytest.raises(error) as caught:
            await fetch(http, dataclasses.replace(CC, token_url=s.url + "/token"), BASIC)
    assert str(caught.value).startswith(text)


async def test_an_unreachable_endpoint_names_the_url(http: httpx.AsyncClient) -> None:
    url = f"http://127.0.0.1:{unused_port()}/token"
    with pytest.raises(TokenError) as caught:
        await fetch(http, dataclasses.replace(CC, token_url=url), BASIC)
    assert not isinstance(caught.value, RetrieveError)
    assert str(caught.value).startswith(f'Post "{url}": ')


@pytest.mark.parametrize(
    ("value", "seconds"), [("60", 60.0), (0, 0.0), (-5, 0.0), ("soon", 0.0), (None, 0.0)]
)
async def test_expires_in_forms(http: httpx.AsyncClient, value: object, seconds: float) -> None:
    async with serve(TokenServer(expires_in=value)) as s:
        token = await fetch(http, dataclasses.replace(CC, token_url=s.url), BASIC)
    assert token.expires_in == seconds
