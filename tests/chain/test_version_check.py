"""VersionCheck on a real context with an injected clock: Tyk's reasons, statuses and VersionFailure meta,
expiry as time passes, stripping, the base/child choice, and version access rights (TYK-REFERENCE 7.10)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.apidef.model import APISpec, AuthTokenSpec, VersionSpec
from gateway.chain import DEFAULT_CONFIG
from gateway.chain import version_check as vc
from gateway.chain.auth import AuthToken
from gateway.context import RequestContext, Services
from gateway.errors import Reject
from tests.chain.test_chain import Clock, add_key, request, run, services, spec

__all__ = ["services"]  # the fixture, shared with test_chain

T = 1_900_000_000.0  # an expiry instant


def versioned(**kw: Any) -> VersionSpec:
    base: dict[str, Any] = {
        "not_versioned": False,
        "default_version": "v1",
        "versions": {"v1": None, "v2": T},
        "location": "header",
        "key": "x-api-version",
    }
    return VersionSpec(**{**base, **kw})


def failure(ctx: RequestContext, rejected: Reject | None, status: int, reason: str, key: str = "") -> None:
    assert rejected is not None and (rejected.status, rejected.message) == (status, reason)
    ((event, meta),) = ctx.pending
    assert event == "VersionFailure"
    assert meta.go_fields() == {
        "Message": "Attempted access to disallowed version / path.",
        "OriginatingRequest": "",
        "Path": "/a/x",
        "Origin": "10.1.2.3",
        "Key": key,
        "Reason": reason,
    }


async def test_version_expiry_follows_the_clock(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, Clock)
    api = spec(auth=None, versioning=versioned())
    clock.now = T - 60
    ctx, ok = await run(services, api, request({"x-api-version": "v2"}))
    assert ok is None and ctx.outgoing.api_expires == b"Sun, 17 Mar 2030 17:46:40 UTC" and ctx.version == "v2"
    clock.now = T
    ctx, rejected = await run(services, api, request({"x-api-version": "v2"}))
    failure(ctx, rejected, 403, vc.VERSION_EXPIRED)
    ctx, ok = await run(services, api, request({"x-api-version": "v1"}))
    assert ok is None and ctx.outgoing.api_expires is None  # v1 never expires: no header


async def test_api_expiry_binds_versioned_and_not_versioned_apis(services: Services) -> None:
    clock = services.clock
    assert isinstance(clock, Clock)
    for versioning in (VersionSpec(api_expires=T), versioned(api_expires=T)):
        api = spec(auth=None, versioning=versioning)
        clock.now = T - 1
        ctx, ok = await run(services, api, request())
        assert ok is None and ctx.outgoing.api_expires == b"Sun, 17 Mar 2030 17:46:40 UTC"
        clock.now = T + 1
        ctx, rejected = await run(services, api, request())
        failure(ctx, rejected, 403, vc.API_EXPIRED)


@pytest.mark.parametrize(
    ("versioning", "headers", "reason"),
    [
        (versioned(default_version=""), {}, vc.NOT_FOUND),
        (versioned(), {"x-api-version": "v9"}, vc.DOES_NOT_EXIST),
        (VersionSpec(versions={"Default": None, "default": None}), {}, vc.AMBIGUOUS_DEFAULT),
        (VersionSpec(versions={"a": None, "b": None}), {}, vc.NO_DEFAULT),
    ],
)
async def test_legacy_failures(
    services: Services, versioning: VersionSpec, headers: dict[str, str], reason: str
) -> None:
    ctx, rejected = await run(services, spec(auth=None, versioning=versioning), request(headers))
    failure(ctx, rejected, 403, reason)


async def test_fallback_and_default(services: Services) -> None:
    api = spec(auth=None, versioning=versioned(fallback_to_default=True))
    for headers in ({}, {"x-api-version": "v9"}):
        ctx, ok = await run(services, api, request(headers))
        assert ok is None and ctx.pending == []
    # Not versioned: the one version (or "Default") is used whatever the request says.
    single = spec(auth=None, versioning=VersionSpec(versions={"Default": T, "x": None}))
    ctx, ok = await run(services, single, request({"x-api-version": "x"}))
    assert ok is None and ctx.outgoing.api_expires is not None and ctx.version is None


def selector(**kw: Any) -> vc.Selector:
    return vc.Selector(spec(auth=None, versioning=versioned(**kw)))


def ctx_for(services: Services, path: bytes, query: str = "", **headers: str) -> RequestContext:
    scope = request(headers, query)
    scope["path"], scope["raw_path"] = path.decode(), path
    return RequestContext(spec(auth=None), scope, services)


async def test_url_location_and_its_pattern(services: Services) -> None:
    strip = selector(location="url", strip=True, url_pattern="^v\\d+$")
    ctx = ctx_for(services, b"/a/v2/items/1")
    assert strip.requested(ctx) == "v2" and ctx.outgoing.path == b"/a/items/1"
    assert strip.requested(ctx) == "v2" and ctx.outgoing.path == b"/a/items/1"  # asking twice: the same
    ctx = ctx_for(services, b"/a/beta/items")  # named, but not stripped: the pattern does not match
    assert strip.requested(ctx) == "beta" and ctx.outgoing.path is None
    ctx = ctx_for(services, b"/a//v2")
    assert strip.requested(ctx) == "v2" and ctx.outgoing.path == b"/a/"
    ctx = ctx_for(services, b"/a/")
    assert strip.requested(ctx) == "" and ctx.outgoing.path is None
    keep = selector(location="url")
    ctx = ctx_for(services, b"/a/v%32/x")
    assert keep.requested(ctx) == "v2" and ctx.outgoing.path is None


async def test_query_and_header_stripping_compose_with_strip_auth(services: Services) -> None:
    sel = selector(location="url-param", key="ver", strip=True)
    ctx = ctx_for(services, b"/a/x", "a=1&ver=v2&k=secret&ver=v3")
    assert sel.requested(ctx) == "v2" and ctx.outgoing.query == b"a=1&k=secret"
    assert sel.requested(ctx) == "v2" and ctx.outgoing.query == b"a=1&k=secret"
    auth = AuthToken(
        spec(auth=AuthTokenSpec(use_param=True, param_name="k", strip_auth_data=True)), DEFAULT_CONFIG
    )
    await add_key(services, "secret")
    await auth.on_request(ctx)
    assert ctx.outgoing.query == b"a=1"  # both the version and the credential are gone
    header = selector(strip=True)
    ctx = ctx_for(services, b"/a/x", **{"x-api-version": "v2"})
    assert header.requested(ctx) == "v2" and b"x-api-version" in ctx.outgoing.drop


def base(**kw: Any) -> vc.Selector:
    defaults: dict[str, Any] = {
        "enabled": True,
        "name": "v1",
        "default": "self",
        "location": "header",
        "key": "x-api-version",
        "children": {"v2": "child-2", "v3": "gone"},
    }
    return vc.Selector(spec(auth=None, versioning=VersionSpec(**{**defaults, **kw})))


@pytest.mark.parametrize(
    ("kw", "asked", "outcome"),
    [
        ({}, "", None),  # the default is "self": the base serves
        ({}, "v1", None),  # the base's own name
        ({}, "v2", "child-2"),
        ({"default": "v2"}, "", "child-2"),
        ({"default": "", "name": "v1"}, "", (403, vc.NOT_FOUND)),
        ({}, "v9", (404, vc.DOES_NOT_EXIST)),
        ({}, "v3", (404, vc.DOES_NOT_EXIST)),  # listed, but no such API is loaded
        ({"fallback_to_default": True}, "v9", None),
        ({"fallback_to_default": True, "default": "v2"}, "v9", "child-2"),
        ({"fallback_to_default": True, "default": "v3"}, "v9", (500, "Internal Server Error")),
    ],
)
async def test_base_child_choice_fires_nothing(
    services: Services, kw: dict[str, Any], asked: str, outcome: Any
) -> None:
    ctx = ctx_for(services, b"/a/x", **({"x-api-version": asked} if asked else {}))
    sel = base(**kw)
    if isinstance(outcome, tuple):
        with pytest.raises(Reject) as caught:
            sel.pick_child(ctx, {"child-2"}.__contains__)
        assert (caught.value.status, caught.value.message) == outcome
    else:
        assert sel.pick_child(ctx, {"child-2"}.__contains__) == outcome
    assert ctx.pending == []


async def test_a_key_without_the_version_is_refused_with_version_failure(services: Services) -> None:
    api: APISpec = spec(versioning=versioned(fallback_to_default=True))
    rights = {"api1": {"api_id": "api1", "versions": ["v1"]}}
    await add_key(services, "key-v1", access_rights=rights)
    ctx, ok = await run(services, api, request({"Authorization": "key-v1", "x-api-version": "v1"}))
    assert ok is None
    # Falls back to v1 for a version that does not exist; a version that exists must be held.
    ctx, ok = await run(services, api, request({"Authorization": "key-v1", "x-api-version": "v9"}))
    assert ok is None
    ctx, rejected = await run(services, api, request({"Authorization": "key-v1", "x-api-version": "v2"}))
    failure(ctx, rejected, 403, "Access to this API has been disallowed", key="key-v1")


def test_http_date_is_gos_rfc1123() -> None:
    assert vc._http_date(0) == b"Thu, 01 Jan 1970 00:00:00 UTC"
