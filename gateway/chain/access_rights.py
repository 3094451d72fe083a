"""Access rights middleware: a key whose `access_rights` do not list this API, or for a versioned API the
version asked for, is refused with 403 `Access to this API has been disallowed`.

An empty `access_rights` map allows every API, as Tyk does for keys made under `allow_master_keys`.
A version refusal fires VersionFailure (the issue asks for it; Tyk fires nothing). URL-level rights
are a later middleware's job.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.apidef.model import APISpec
from gateway.chain.keyed import KeyStep
from gateway.chain.version_check import FAILURE
from gateway.config.model import Config
from gateway.context import RequestContext
from gateway.errors import ACCESS_DISALLOWED, Reject
from gateway.events.catalog import Event, VersionFailureMeta


class AccessRights(KeyStep):
    name: ClassVar[str] = "access_rights"

    def __init__(self, spec: APISpec, config: Config) -> None:
        super().__init__(spec, config)
        versioning = spec.versioning
        self.versioned = not versioning.not_versioned
        self.default = versioning.default_version
        self.fallback = versioning.fallback_to_default
        self.known = frozenset(versioning.versions)

    async def on_request(self, ctx: RequestContext) -> None:
        rights = ctx.session.access_rights if ctx.session is not None else {}
        if not rights:
            return
        right = rights.get(self.api_id)
        if right is None:
            raise Reject(403, ACCESS_DISALLOWED)
        if not self.versioned or ctx.version is None:
            return
        # The version asked for (or the default) must be listed. With fallback_to_default, a key holding
        # the default may call a version that does not exist, since the default serves it. Tyk lets such
        # a key call every other version too; this gateway does not (see README).
        target, allowed = ctx.version, right.versions
        if target in allowed or (self.fallback and target not in self.known and self.default in allowed):
            return
        ctx.fire(
            Event.VersionFailure,
            VersionFailureMeta(
                FAILURE, path=ctx.path, origin=ctx.origin, key=ctx.key, reason=ACCESS_DISALLOWED
            ),
        )
        raise Reject(403, ACCESS_DISALLOWED)
