"""VersionCheck, first in the chain (Tyk's mw_version_check.go): the version a request names, whether it
may have it, the `x-tyk-api-expires` header, and stripping the version before proxying.

Legacy failures are 403 with the reason and fire VersionFailure. Base/child selection (`Selector`)
fires nothing, as in Tyk; routing dispatches to the child, this module never looks other APIs up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import ClassVar
from urllib.parse import unquote, unquote_plus

from gateway.apidef.model import APISpec, VersionSpec
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import Reject
from gateway.events.catalog import Event, VersionFailureMeta
from gateway.log import get_logger

log = get_logger("version_check")

FAILURE = "Attempted access to disallowed version / path."
NOT_FOUND = "Version information not found"
DOES_NOT_EXIST = "This API version does not seem to exist"
VERSION_EXPIRED = "Api Version has expired, please check documentation or contact administrator"
API_EXPIRED = "API has expired, please check documentation or contact administrator"
NO_DEFAULT = "No default API version for this non-versioned API found"
AMBIGUOUS_DEFAULT = "Ambiguous default API version for this non-versioned API"
SELF = "self"  # Tyk's name for "the base API itself" in definition.default
DEFAULT_NAMES = ("Default", "default", "")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Selector:
    """Reads the version a request names at the configured location; built once per API."""

    __slots__ = ("_header", "_param", "_pattern", "prefix", "v")

    def __init__(self, spec: APISpec) -> None:
        self.v = spec.versioning
        self.prefix = spec.listen_path.rstrip("/").encode()
        self._header = self.v.key.lower().encode("latin-1")
        self._param = self.v.key
        self._pattern = re.compile(self.v.url_pattern) if self.v.url_pattern else None

    def requested(self, ctx: RequestContext) -> str:
        """The version named by the request ("" if none), stripped from what goes upstream if configured."""
        location, strip = self.v.location, self.v.strip
        if location == "header":
            if strip:
                ctx.outgoing.drop_header(self._header)
            return (ctx.header(self._header) or b"").decode("latin-1")
        if location == "url-param":
            return self._from_query(ctx, strip)
        if location == "url":
            return self._from_path(ctx, strip)
        return ""

    # Both readers start from the request as received, so asking twice (a base that serves itself)
    # gives the same answer and the same stripped form.
    def _from_query(self, ctx: RequestContext, strip: bool) -> str:
        query: bytes = ctx.scope.get("query_string", b"")
        found, kept = None, []
        for part in query.split(b"&") if query else ():
            name, _, value = part.decode("latin-1").partition("=")
            if unquote_plus(name) == self._param:
                found = unquote_plus(value) if found is None else found  # Go's Query().Get: the first
                continue
            kept.append(part)
        if strip and found is not None:
            ctx.outgoing.query = b"&".join(kept)
        return found or ""

    def _from_path(self, ctx: RequestContext, strip: bool) -> str:
        raw: bytes = ctx.scope.get("raw_path") or ctx.scope["path"].encode()
        start = len(self.prefix) if raw.startswith(self.prefix) else 0
        # The first non-empty segment after the listen path names the version.
        while start < len(raw) and raw[start : start + 1] == b"/":
            start += 1
        end = raw.find(b"/", start)
        end = len(raw) if end < 0 else end
        part = unquote(raw[start:end].decode("latin-1"))
        if part and strip and (self._pattern is None or self._pattern.search(part)):
            ctx.outgoing.path = raw[: start - 1] + raw[end:]  # the segment and the slash before it
        return part

    def pick_child(self, ctx: RequestContext, exists: Callable[[str], bool]) -> str | None:
        """Base/child: the API id that serves this request, or None when the base serves it. No event."""
        v = self.v
        target = self.requested(ctx) or v.default
        if _is_base(v, target):
            return None
        if not target:
            raise Reject(403, NOT_FOUND)
        child = v.children.get(target, "")
        if child and exists(child):
            return child
        if not v.fallback_to_default:
            raise Reject(404, DOES_NOT_EXIST)
        if _is_base(v, v.default):
            return None
        fallback = v.children.get(v.default, "")
        if not (fallback and exists(fallback)):
            log.error("fallback to default version %r, but no API serves it (id %r)", v.default, fallback)
            raise Reject(500, "Internal Server Error")
        return fallback


class VersionCheck:
    name: ClassVar[str] = "version_check"

    def __init__(self, spec: APISpec, config: Config) -> None:
        v = self.v = spec.versioning
        self.selector = Selector(spec)
        self.api_header = _http_date(v.api_expires) if v.api_expires is not None else None
        # Each version's own header, used when the API itself has no expiration (Tyk's deprecated form).
        self.headers = {n: _http_date(t) for n, t in v.versions.items() if t is not None}
        self.single_failure, single = _single(v.versions)
        self.single_expires = v.versions.get(single) if single is not None else None
        self.single_header = self.headers.get(single) if single is not None else None

    @staticmethod
    def enabled(spec: APISpec, config: Config) -> bool:
        v = spec.versioning
        failure, single = _single(v.versions)
        expires = v.versions.get(single) if single is not None else None
        return not v.not_versioned or v.api_expires is not None or failure is not None or expires is not None

    async def on_request(self, ctx: RequestContext) -> None:
        v, now = self.v, ctx.now()
        if v.not_versioned:
            if self.single_failure is not None:
                self._fail(ctx, self.single_failure)
            expires, header = self.single_expires, self.single_header
        else:
            name = self.selector.requested(ctx) or v.default_version
            ctx.version = name  # what AccessRights checks: the requested (or default) name, as Tyk
            if not name:
                self._fail(ctx, NOT_FOUND)
            if name not in v.versions:
                if not (v.fallback_to_default and v.default_version in v.versions):
                    self._fail(ctx, DOES_NOT_EXIST)
                name = v.default_version
            expires, header = v.versions[name], self.headers.get(name)
            if expires is not None and now >= expires:
                self._fail(ctx, VERSION_EXPIRED)
        # Tyk enforces `expiration` only on not-versioned APIs; here it binds every API (see README).
        if v.api_expires is not None and now >= v.api_expires:
            self._fail(ctx, API_EXPIRED)
        if self.api_header is not None:
            ctx.outgoing.api_expires = self.api_header
        elif expires is not None and now < expires:
            ctx.outgoing.api_expires = header

    @staticmethod
    def _fail(ctx: RequestContext, reason: str) -> None:
        ctx.fire(
            Event.VersionFailure,
            VersionFailureMeta(FAILURE, path=ctx.path, origin=ctx.origin, key="", reason=reason),
        )
        raise Reject(403, reason)


def _is_base(v: VersionSpec, name: str) -> bool:
    return name == SELF or name == v.name


def _single(versions: Mapping[str, float | None]) -> tuple[str | None, str | None]:
    """A not-versioned API's one version (Tyk's GetSingleOrDefaultVersion): (failure reason, name)."""
    names = list(versions)
    if sum(1 for n in names if n in DEFAULT_NAMES) > 1:
        return AMBIGUOUS_DEFAULT, None
    if len(names) <= 1:
        return None, names[0] if names else None  # no versions at all: one implicit version
    found = next((n for n in DEFAULT_NAMES if n in names), None)
    return (None, found) if found is not None else (NO_DEFAULT, None)


def _http_date(seconds: float) -> bytes:
    """Go's time.RFC1123 for a UTC time: `Mon, 02 Jan 2006 15:04:05 UTC` (locale-independent)."""
    t = time.gmtime(seconds)
    day, month = _DAYS[t.tm_wday], _MONTHS[t.tm_mon - 1]
    clock = f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    return f"{day}, {t.tm_mday:02d} {month} {t.tm_year} {clock} UTC".encode()
