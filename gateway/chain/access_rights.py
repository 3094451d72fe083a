"""Access rights middleware: a key whose `access_rights` do not list this API is refused (no event).

An empty `access_rights` map allows every API, as Tyk does for keys made under `allow_master_keys`.
Version and URL-level rights arrive with versioning (a later issue); this checks the API only.
"""

from __future__ import annotations

from typing import ClassVar

from gateway.apidef.model import APISpec
from gateway.context import RequestContext
from gateway.errors import ACCESS_DISALLOWED, Reject


class AccessRights:
    name: ClassVar[str] = "access_rights"

    def __init__(self, spec: APISpec) -> None:
        self.api_id = spec.api_id

    @staticmethod
    def enabled(spec: APISpec) -> bool:
        return spec.auth is not None

    async def on_request(self, ctx: RequestContext) -> None:
        rights = ctx.session.access_rights if ctx.session is not None else {}
        if rights and self.api_id not in rights:
            raise Reject(403, ACCESS_DISALLOWED)
