"""Upstream OAuth settings in both formats: what loads, what is off, and every bad value refused with
the file, the JSON path and the value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.loader import parse
from gateway.apidef.model import UpstreamOAuthSpec
from gateway.errors import ConfigError

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "apps"
CL = "$.upstream_auth.oauth"
OA = "$.x-tyk-api-gateway.upstream.authentication.oauth"


def classic(oauth: dict[str, Any], enabled: bool = True) -> dict[str, Any]:
    return {
        "api_id": "a",
        "use_keyless": True,
        "proxy": {"listen_path": "/a/", "target_url": "http://127.0.0.1:8000/"},
        "upstream_auth": {"enabled": enabled, "oauth": oauth},
    }


def oas(oauth: dict[str, Any], enabled: bool = True) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "a", "version": "1"},
        "paths": {},
        "x-tyk-api-gateway": {
            "info": {"id": "a", "name": "a"},
            "server": {"listenPath": {"value": "/a/"}},
            "upstream": {
                "url": "http://127.0.0.1:8000/",
                "authentication": {"enabled": enabled, "oauth": oauth},
            },
        },
    }


def cc_classic(**block: Any) -> dict[str, Any]:
    base = {"client_id": "cid", "client_secret": "cs", "token_url": "http://idp/token"}
    return {
        "enabled": True,
        "allowed_authorize_types": ["clientCredentials"],
        "client_credentials": {**base, **block},
    }


def cc_oas(**block: Any) -> dict[str, Any]:
    base = {"clientId": "cid", "clientSecret": "cs", "tokenUrl": "http://idp/token"}
    return {
        "enabled": True,
        "allowedAuthorizeTypes": ["clientCredentials"],
        "clientCredentials": {**base, **block},
    }


def test_golden_pair_reads_the_password_grant() -> None:
    spec = parse(json.loads((GOLDEN / "upstream-oauth.oas.json").read_text()), "g.json")
    assert spec.upstream_oauth == UpstreamOAuthSpec(
        grant="password",
        client_id="gateway",
        token_url="https://idp.example.com/oauth/token",
        client_secret="gateway-secret",
        scopes=("orders:read", "orders:write"),
        username="svc-user",
        password="svc-pass",
        header_name="X-Upstream-Auth",
        extra_metadata=("instance_url",),
    )
    assert "gateway-secret" not in repr(spec.upstream_oauth) and "svc-pass" not in repr(spec)


@pytest.mark.parametrize("build", [classic, oas])
def test_both_switches_must_be_on(build: Any) -> None:
    oauth = cc_classic() if build is classic else cc_oas()
    assert parse(build(oauth, enabled=False), "f.json").upstream_oauth is None
    assert parse(build({**oauth, "enabled": False}), "f.json").upstream_oauth is None
    on = parse(build(oauth), "f.json").upstream_oauth
    assert on is not None and (on.grant, on.header_name, on.method) == (
        "clientCredentials",
        "Authorization",
        "",
    )
    # A disabled block may be left half-filled, as Tyk's exports leave it.
    assert parse(build({"enabled": False, "allowed_authorize_types": None}), "f.json").upstream_oauth is None


def test_classic_and_oas_agree_on_client_credentials() -> None:
    one = parse(classic(cc_classic(scopes=["x"], method="client_secret_post")), "c.json").upstream_oauth
    two = parse(oas(cc_oas(scopes=["x"], method="client_secret_post")), "o.json").upstream_oauth
    assert one == two and one is not None and one.method == "client_secret_post"


BAD = [
    # (classic oauth block, oas oauth block, classic path, oas path, value shown)
    (
        {**cc_classic(), "allowed_authorize_types": []},
        {**cc_oas(), "allowedAuthorizeTypes": []},
        f"{CL}.allowed_authorize_types",
        f"{OA}.allowedAuthorizeTypes",
        "[]",
    ),
    (
        {**cc_classic(), "allowed_authorize_types": ["clientCredentials", "password"]},
        {**cc_oas(), "allowedAuthorizeTypes": ["clientCredentials", "password"]},
        f"{CL}.allowed_authorize_types",
        f"{OA}.allowedAuthorizeTypes",
        '["clientCredentials", "password"]',
    ),
    (
        {**cc_classic(), "allowed_authorize_types": ["implicit"]},
        {**cc_oas(), "allowedAuthorizeTypes": ["implicit"]},
        f"{CL}.allowed_authorize_types",
        f"{OA}.allowedAuthorizeTypes",
        '["implicit"]',
    ),
    (
        cc_classic(token_url=""),
        cc_oas(tokenUrl=""),
        f"{CL}.client_credentials.token_url",
        f"{OA}.clientCredentials.tokenUrl",
        '""',
    ),
    (
        cc_classic(token_url="ftp://idp/token"),
        cc_oas(tokenUrl="ftp://idp/token"),
        f"{CL}.client_credentials.token_url",
        f"{OA}.clientCredentials.tokenUrl",
        '"ftp://idp/token"',
    ),
    (
        cc_classic(client_id=""),
        cc_oas(clientId=""),
        f"{CL}.client_credentials.client_id",
        f"{OA}.clientCredentials.clientId",
        '""',
    ),
    (
        {"enabled": True, "allowed_authorize_types": ["password"], "password": {"token_url": "http://i/t"}},
        {"enabled": True, "allowedAuthorizeTypes": ["password"], "password": {"tokenUrl": "http://i/t"}},
        f"{CL}.password.client_id",
        f"{OA}.password.clientId",
        "null",
    ),
    (
        cc_classic(scopes=["a", 3]),
        cc_oas(scopes=["a", 3]),
        f"{CL}.client_credentials.scopes[1]",
        f"{OA}.clientCredentials.scopes[1]",
        "3",
    ),
    (
        cc_classic(method="private_key_jwt"),
        cc_oas(method="private_key_jwt"),
        f"{CL}.client_credentials.method",
        f"{OA}.clientCredentials.method",
        '"private_key_jwt"',
    ),
]


@pytest.mark.parametrize(("c_block", "o_block", "c_path", "o_path", "shown"), BAD)
def test_bad_values_name_file_path_and_value(
    c_block: dict[str, Any], o_block: dict[str, Any], c_path: str, o_path: str, shown: str
) -> None:
    for doc, path in ((classic(c_block), c_path), (oas(o_block), o_path)):
        with pytest.raises(ConfigError) as caught:
            parse(doc, "bad.json")
        message = str(caught.value)
        assert message.startswith(f"bad.json: {path}: "), message
        assert shown in message, message


def test_upstream_basic_auth_stays_reported_as_ignored() -> None:
    c = classic(cc_classic())
    c["upstream_auth"]["basic_auth"] = {"enabled": True, "username": "u", "password": "p"}
    assert parse(c, "c.json").ignored == ("upstream_auth.basic_auth",)
    o = oas(cc_oas())
    o["x-tyk-api-gateway"]["upstream"]["authentication"]["basicAuth"] = {"enabled": True}
    assert parse(o, "o.json").ignored == ("upstream.authentication.basicAuth",)
    assert parse(oas(cc_oas()), "o.json").ignored == ()
