"""Upstream OAuth settings from both formats (Classic `upstream_auth`, OAS `upstream.authentication`)
into an UpstreamOAuthSpec, checked at load: exactly one grant, a client id and an http(s) token URL.

Pure: dict in, spec out. Upstream basic auth is not read here: features.py names it as ignored.
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, show
from gateway.apidef.model import UpstreamOAuthSpec

GRANTS = ("clientCredentials", "password")
METHODS = ("", "client_secret_basic", "client_secret_post")
UPSTREAM = "$.x-tyk-api-gateway.upstream"

# Tyk's JSON names for each field, per format: (Classic, OAS).
_NAMES = {
    "types": ("allowed_authorize_types", "allowedAuthorizeTypes"),
    "clientCredentials": ("client_credentials", "clientCredentials"),
    "password": ("password", "password"),
    "client_id": ("client_id", "clientId"),
    "client_secret": ("client_secret", "clientSecret"),
    "token_url": ("token_url", "tokenUrl"),
    "extra_metadata": ("extra_metadata", "extraMetadata"),
}


def classic(r: Reader, doc: dict[str, Any]) -> UpstreamOAuthSpec | None:
    """Classic `upstream_auth {enabled, oauth {...}}`; None unless both switches are on (Tyk's rule)."""
    return _parse(r, r.obj(doc, "upstream_auth", "$"), "$.upstream_auth", 0)


def oas(r: Reader, upstream: dict[str, Any]) -> UpstreamOAuthSpec | None:
    """OAS `upstream.authentication {enabled, oauth {...}}`; None unless both switches are on."""
    return _parse(r, r.obj(upstream, "authentication", UPSTREAM), f"{UPSTREAM}.authentication", 1)


def _parse(r: Reader, auth: dict[str, Any], path: str, fmt: int) -> UpstreamOAuthSpec | None:
    oauth = r.obj(auth, "oauth", path)
    at = f"{path}.oauth"
    if not (r.flag(auth, "enabled", path) and r.flag(oauth, "enabled", at)):
        return None
    name = {key: names[fmt] for key, names in _NAMES.items()}
    types = _strings(r, oauth, name["types"], at)
    if len(types) != 1 or types[0] not in GRANTS:
        shown = show(oauth.get(name["types"]))
        raise r.fail(
            f"{at}.{name['types']}", f'expected exactly one of "clientCredentials" or "password", got {shown}'
        )
    grant = types[0]
    block_path = f"{at}.{name[grant]}"
    block = r.obj(oauth, name[grant], at)
    client_id = r.text(block, name["client_id"], block_path)
    if not client_id:
        raise r.fail(
            f"{block_path}.{name['client_id']}",
            f"required: a non-empty string, got {show(block.get(name['client_id']))}",
        )
    token_url = r.target_url(block.get(name["token_url"]), f"{block_path}.{name['token_url']}")
    r.call(f"{block_path}.{name['token_url']}", token_url)
    method = r.text(block, "method", block_path)
    if method not in METHODS:
        raise r.fail(
            f"{block_path}.method",
            f'expected "client_secret_basic", "client_secret_post" or empty, got {show(method)}',
        )
    header = r.obj(block, "header", block_path)
    # Tyk uses a configured header name whether or not `header.enabled` is set.
    header_name = r.text(header, "name", f"{block_path}.header").strip() or "Authorization"
    r.flag(header, "enabled", f"{block_path}.header")  # type-checked only
    return UpstreamOAuthSpec(
        grant=grant,
        client_id=client_id,
        token_url=token_url,
        client_secret=r.text(block, name["client_secret"], block_path),
        scopes=_strings(r, block, "scopes", block_path),
        username=r.text(block, "username", block_path) if grant == "password" else "",
        password=r.text(block, "password", block_path) if grant == "password" else "",
        method=method,
        header_name=header_name,
        extra_metadata=_strings(r, block, name["extra_metadata"], block_path),
    )


def _strings(r: Reader, parent: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    items = r.items(parent, key, path)
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise r.fail(f"{path}.{key}[{i}]", f"expected a string, got {show(item)}")
    return tuple(items)
