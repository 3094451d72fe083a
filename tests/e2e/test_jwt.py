"""JWT auth end to end, on both stores: tokens signed with HMAC, RSA and ECDSA (PyJWT and keys made by
the test), Tyk's status, message and AuthFailure for every refusal, the time claims with their skews,
and the user's session Tyk generates from the token's policy, whose quota then applies and is shared
through the store; per-key secrets named by the token's kid."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

from gateway.chain import jwks as jwks_module
from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from tests.e2e.conftest import hooks_per_event

SECRET = b"a secret of 32 bytes or more, for HS256"
EVENTS = ("AuthFailure", "QuotaExceeded")
RIGHTS = {"jwt-api": {"api_id": "jwt-api", "versions": ["Default"]}}


def api(upstream: str, hook: str, **jwt_fields: Any) -> dict[str, Any]:
    hooks = hooks_per_event(hook, EVENTS)
    return {
        "api_id": "jwt-api",
        "org_id": "org1",
        "name": "jwt-api",
        "enable_jwt": True,
        "jwt_signing_method": "hmac",
        "jwt_source": base64.b64encode(SECRET).decode(),
        "jwt_identity_base_field": "sub",
        "jwt_policy_field_name": "pol",
        "proxy": {"listen_path": "/jwt/", "target_url": upstream, "strip_listen_path": True},
        "event_handlers": {"events": hooks},
        **jwt_fields,
    }


def config(tmp_path: Path, store: dict[str, Any]) -> dict[str, Any]:
    folder = tmp_path / "policies"
    folder.mkdir(exist_ok=True)
    gold = {
        "id": "gold",
        "org_id": "org1",
        "quota_max": 2,
        "quota_renewal_rate": 3600,
        "access_rights": RIGHTS,
    }
    (folder / "gold.json").write_text(json.dumps(gold))
    trial = {"id": "trial", "org_id": "org1", "key_expires_in": 3600, "access_rights": RIGHTS}
    (folder / "trial.json").write_text(json.dumps(trial))
    return {**store, "policies": {"policy_path": "policies"}}


async def call(gw: RunningGateway, token: str | None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    resp = await gw.client.get("/jwt/x", headers=headers)
    return resp.status_code, resp.json().get("error", "") if resp.status_code != 200 else ""


def hs(claims: dict[str, Any], key: bytes = SECRET, **header: Any) -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers=header or None)


def events(recorder: WebhookRecorder, event: str) -> list[str]:
    return [d.json()["key"] for d in recorder.deliveries if d.path == f"/hook/{event}"]


async def test_jwt_refusals_time_claims_and_the_generated_session(
    tmp_path: Path, store_config: dict[str, Any]
) -> None:
    recorder = WebhookRecorder()
    now = int(time.time())
    async with await serve(echo_app) as upstream, await serve(recorder) as hook:
        apis = [api(upstream.url, hook.url + "/hook", jwt_expires_at_validation_skew=5)]
        async with run_gateway(tmp_path, apis=apis, config=config(tmp_path, store_config)) as gw:
            unsigned = jwt.encode({"sub": "u", "pol": "gold"}, None, algorithm="none")
            other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            assert await call(gw, None) == (400, "Authorization field missing")
            assert await call(gw, "not.a.jwt") == (403, "Key not authorized")
            assert await call(
                gw, hs({"sub": "u", "pol": "gold"}, b"another secret of at least 32 bytes")
            ) == (
                403,
                "Key not authorized",
            )
            assert await call(gw, unsigned) == (403, "Key not authorized: Unexpected signing method")
            signed_rs = jwt.encode({"sub": "u"}, other, algorithm="RS256")
            assert await call(gw, signed_rs) == (403, "Key not authorized: Unexpected signing method")
            # Time claims: 401 and no event; exp honours its 5 s skew.
            assert await call(gw, hs({"sub": "u", "pol": "gold", "exp": now - 60})) == (
                401,
                "Key not authorized: token has expired",
            )
            # Within the skew the token passes, but the session Tyk makes lasts until the token's exp:
            # the key itself has expired (KeyExpired's 401, not the JWT step's).
            assert await call(gw, hs({"sub": "t", "pol": "gold", "exp": now - 1})) == (
                401,
                "Key has expired, please renew",
            )
            assert await call(gw, hs({"sub": "u", "pol": "gold", "nbf": now + 60})) == (
                401,
                "Key not authorized: token is not valid yet",
            )
            assert await call(gw, hs({"sub": "v", "pol": "nope"})) == (
                403,
                "key not authorized: no matching policy",
            )
            assert await call(gw, hs({"sub": "w"})) == (403, "key not authorized: no matching policy found")
            assert await call(gw, hs({"pol": "gold"})) == (403, "no suitable claims for user ID were found")

            good = hs({"sub": "u", "pol": "gold"})
            assert [await call(gw, good) for _ in range(3)] == [(200, ""), (200, ""), (403, "Quota exceeded")]
            session_id = "org1" + hashlib.md5(b"u").hexdigest()
            stored = (await gw.admin("GET", f"/tyk/keys/{session_id}")).json()
            assert stored["apply_policies"] == ["gold"] and stored["alias"] == "u"
            # A user's first session is made from its base policy, trial period included.
            assert await call(gw, hs({"sub": "x", "pol": "trial"})) == (200, "")
            trial_id = "org1" + hashlib.md5(b"x").hexdigest()
            trial = (await gw.admin("GET", f"/tyk/keys/{trial_id}")).json()
            assert now + 3600 <= trial["expires"] <= int(time.time()) + 3600
            await gw.idle()
            await recorder.wait_for(8)
            assert events(recorder, "AuthFailure") == ["", "", "", "", "", "v", "w", "[NOT FOUND]"]
            assert events(recorder, "QuotaExceeded") == [session_id]


async def test_rsa_ecdsa_and_per_key_secrets(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())

    def spki(key: Any) -> str:
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(pem).decode()

    async with await serve(echo_app) as upstream:
        apis = [
            {
                **api(upstream.url, "http://127.0.0.1:1"),
                "api_id": "rsa",
                "jwt_signing_method": "rsa",
                "jwt_source": spki(rsa_key),
                "proxy": {"listen_path": "/rsa/", "target_url": upstream.url},
            },
            {
                **api(upstream.url, "http://127.0.0.1:1"),
                "api_id": "ec",
                "jwt_signing_method": "ecdsa",
                "jwt_source": spki(ec_key),
                "proxy": {"listen_path": "/ec/", "target_url": upstream.url},
            },
            {
                **api(upstream.url, "http://127.0.0.1:1"),
                "api_id": "perkey",
                "jwt_source": "",
                "proxy": {"listen_path": "/perkey/", "target_url": upstream.url},
            },
        ]
        rights = {a: {"api_id": a, "versions": ["Default"]} for a in ("rsa", "ec", "perkey")}
        folder = tmp_path / "policies"
        folder.mkdir()
        (folder / "all.json").write_text(
            __import__("json").dumps({"id": "all", "org_id": "org1", "access_rights": rights})
        )
        async with run_gateway(tmp_path, apis=apis, config={"policies": {"policy_path": "policies"}}) as gw:
            claims = {"sub": "someone", "pol": "all"}
            for path, key, alg in (
                ("/rsa/", rsa_key, "RS512"),
                ("/rsa/", rsa_key, "PS256"),
                ("/ec/", ec_key, "ES256"),
            ):
                token = jwt.encode(claims, key, algorithm=alg)
                assert (await gw.client.get(path, headers={"Authorization": token})).status_code == 200, alg
            wrong = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
            assert (await gw.client.get("/ec/", headers={"Authorization": wrong})).status_code == 403
            # Per-key secrets: the kid names a key holding jwt_data.secret.
            user = {"org_id": "org1", "jwt_data": {"secret": "per-key-secret"}, "access_rights": rights}
            assert (await gw.admin("POST", "/tyk/keys/kid1", json=user)).status_code == 200
            user["jwt_data"] = {"secret": "per-key secret, 32 bytes or longer"}
            assert (await gw.admin("POST", "/tyk/keys/kid1", json=user)).status_code == 200
            mine = jwt.encode(
                {"sub": "x"},
                b"per-key secret, 32 bytes or longer",
                algorithm="HS256",
                headers={"kid": "org1kid1"},
            )
            assert (await gw.client.get("/perkey/", headers={"Authorization": mine})).status_code == 200
            theirs = jwt.encode(
                {"sub": "x"},
                b"a guess, also 32 bytes or longer!",
                algorithm="HS256",
                headers={"kid": "org1kid1"},
            )
            assert (await gw.client.get("/perkey/", headers={"Authorization": theirs})).status_code == 403


class JWKSServer:
    """A JWKS endpoint: the public keys it serves can be changed, and it counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.status = 200
        self.fetches = 0

    def publish(self, key: Any, kid: str) -> None:
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        self.keys = [{**jwk, "kid": kid, "use": "sig"}]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.fetches += 1
        body = json.dumps({"keys": self.keys}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


async def test_jwks_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    idp, first, second = (
        JWKSServer(),
        rsa.generate_private_key(65537, 2048),
        rsa.generate_private_key(65537, 2048),
    )
    idp.publish(first, "k1")
    claims = {"sub": "someone", "pol": "gold"}
    async with await serve(echo_app) as upstream, await serve(idp) as jwks:
        raw_url = {
            "jwt_signing_method": "rsa",
            "jwt_source": jwks.url + "/jwks",
        }  # a raw URL: Tyk's #7461 fixed
        apis = [{**api(upstream.url, "http://127.0.0.1:1"), **raw_url}]
        async with run_gateway(tmp_path, apis=apis, config=config(tmp_path, {})) as gw:
            token = jwt.encode(claims, first, algorithm="RS256", headers={"kid": "k1"})
            assert [(await call(gw, token))[0] for _ in range(2)] == [200, 200]
            assert idp.fetches == 1  # kept for the cache time
            # A made-up kid right after a fetch is refused without asking the endpoint again.
            assert await call(gw, jwt.encode(claims, first, algorithm="RS256", headers={"kid": "nope"})) == (
                403,
                "Key not authorized",
            )
            assert idp.fetches == 1
            # Tyk's cache purge: the next token fetches the keys again.
            purged = await gw.admin("DELETE", "/tyk/cache/jwks/jwt-api")
            assert purged.json() == {"status": "ok", "message": "cache invalidated"}
            assert (
                await call(gw, token) == (403, "Quota exceeded") and idp.fetches == 2
            )  # verified, then the quota
            # Keys rotated at the IdP: an unknown kid fetches again (once the refetch interval allows).
            monkeypatch.setattr(jwks_module, "REFETCH_AFTER", 0.0)
            idp.publish(second, "k2")
            claims = {"sub": "another", "pol": "gold"}  # gold's quota is 2 a user: a new one for what follows
            rotated = jwt.encode(claims, second, algorithm="RS256", headers={"kid": "k2"})
            assert await call(gw, rotated) == (200, ""), idp.fetches
            assert idp.fetches == 3
            # The endpoint failing keeps the last keys; a key it never had is refused.
            idp.status = 500
            assert (await call(gw, jwt.encode(claims, second, algorithm="RS256", headers={"kid": "k2"})))[
                0
            ] == 200
            assert (await call(gw, jwt.encode(claims, first, algorithm="RS256", headers={"kid": "k9"})))[
                0
            ] == 403


async def test_scope_to_policy_mapping(tmp_path: Path) -> None:
    scopes = {
        "scopes": {
            "jwt": {"scope_claim_name": "perms", "scope_to_policy": {"read": "gold", "write": "silver"}}
        }
    }
    async with await serve(echo_app) as upstream:
        apis = [api(upstream.url, "http://127.0.0.1:1", jwt_default_policies=["gold"], **scopes)]
        cfg = config(tmp_path, {})
        silver = {"id": "silver", "org_id": "org1", "rate": 100, "per": 1, "access_rights": RIGHTS}
        (tmp_path / "policies" / "silver.json").write_text(json.dumps(silver))
        async with run_gateway(tmp_path, apis=apis, config=cfg) as gw:

            async def policies(sub: str) -> list[str]:
                key = "org1" + hashlib.md5(sub.encode()).hexdigest()
                found: list[str] = (await gw.admin("GET", f"/tyk/keys/{key}")).json()["apply_policies"]
                return found

            assert (await call(gw, hs({"sub": "a", "perms": "read write"})))[0] == 200
            assert await policies("a") == ["gold", "silver"]  # the defaults are dropped when scopes map
            assert (await call(gw, hs({"sub": "b", "perms": ["write"]})))[0] == 200
            assert await policies("b") == ["silver"]
            assert (await call(gw, hs({"sub": "c"})))[0] == 200
            assert await policies("c") == ["gold"]  # no scopes: the defaults
            assert await call(gw, hs({"sub": "d", "perms": "admin"})) == (
                403,
                "key not authorized: no matching policy found in scope claim",
            )


async def test_the_client_base_field_takes_the_base_policy_from_a_key(tmp_path: Path) -> None:
    """Without a policy claim, `jwt_client_base_field` names a key: its first policy is the base."""
    async with await serve(echo_app) as upstream:
        apis = [
            api(upstream.url, "http://127.0.0.1:1", jwt_policy_field_name="", jwt_client_base_field="cid")
        ]
        async with run_gateway(tmp_path, apis=apis, config=config(tmp_path, {})) as gw:
            made = await gw.admin(
                "POST", "/tyk/keys/client-key-1", json={"org_id": "org1", "apply_policies": ["gold"]}
            )
            assert made.status_code == 200, made.text
            assert (await call(gw, hs({"sub": "y", "cid": made.json()["key"]})))[0] == 200
            key = "org1" + hashlib.md5(b"y").hexdigest()
            assert (await gw.admin("GET", f"/tyk/keys/{key}")).json()["apply_policies"] == ["gold"]
            for claims in ({"sub": "z", "cid": "no-such-key-1"}, {"sub": "z", "cid": 5}, {"sub": "z"}):
                assert await call(gw, hs(claims)) == (403, "key not authorized: no matching policy found")
