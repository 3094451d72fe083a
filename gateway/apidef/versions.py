"""Versioning in both formats (TYK-REFERENCE 7.10): Classic `version_data`, `definition` and `expiration`;
OAS `x-tyk-api-gateway.info.versioning` and `info.expiration`, into one VersionSpec.

Pure: dict in, VersionSpec out. Dates Tyk would silently treat as "expired" and locations it would
silently ignore are ConfigErrors here, naming the file, the JSON path and the value.
"""

from __future__ import annotations

import calendar
import re
import time
from typing import Any

from gateway.apidef.common import Reader, show
from gateway.apidef.model import VersionSpec

X = "$.x-tyk-api-gateway"
LOCATIONS = ("header", "url-param", "url")
EXPIRY_FORMAT = "%Y-%m-%d %H:%M"  # Go's `2006-01-02 15:04`, read as UTC as Go's time.Parse does
_EXPIRY = re.compile(r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}")


def classic(r: Reader, doc: dict[str, Any]) -> VersionSpec:
    data = r.obj(doc, "version_data", "$")
    definition = r.obj(doc, "definition", "$")
    at = "$.version_data"
    versions: dict[str, float | None] = {}
    listed = r.obj(data, "versions", at)
    for name in listed:
        entry = r.obj(listed, name, f"{at}.versions")
        versions[name] = expiry(r, entry, "expires", f"{at}.versions.{name}")
    d = "$.definition"
    location, key, pattern = _where(r, definition, d, "url_versioning_pattern")
    # A file without any versions is served as one implicit version, as Tyk does for OAS APIs
    # (Tyk itself would refuse every request to such a Classic API: "Version information not found").
    not_versioned = r.flag(data, "not_versioned", at, default=not listed)
    if not_versioned and list(versions.values()) == [None]:
        versions = {}  # one version that never expires is the implicit one: the same spec as its OAS twin
    return VersionSpec(
        not_versioned=not_versioned,
        default_version=r.text(data, "default_version", at),
        versions=versions,
        api_expires=expiry(r, doc, "expiration", "$"),
        strip=r.flag(definition, "strip_versioning_data", d) or r.flag(definition, "strip_path", d),
        fallback_to_default=r.flag(definition, "fallback_to_default", d),
        enabled=r.flag(definition, "enabled", d),
        name=r.text(definition, "name", d),
        default=r.text(definition, "default", d),
        children=_children(r, r.obj(definition, "versions", d), f"{d}.versions"),
        location=location,
        key=key,
        url_pattern=pattern,
    )


def oas(r: Reader, info: dict[str, Any]) -> VersionSpec:
    at = f"{X}.info.versioning"
    versioning = r.obj(info, "versioning", f"{X}.info")
    children: dict[str, str] = {}
    for i, entry in enumerate(r.items(versioning, "versions", at)):
        if not isinstance(entry, dict):
            raise r.fail(f"{at}.versions[{i}]", f'expected {{"name": ..., "id": ...}}, got {show(entry)}')
        children[r.text(entry, "name", f"{at}.versions[{i}]")] = r.text(entry, "id", f"{at}.versions[{i}]")
    location, key, pattern = _where(r, versioning, at, "urlVersioningPattern")
    # Tyk runs every OAS API as not versioned: versions are separate (child) APIs, never version_data.
    return VersionSpec(
        api_expires=expiry(r, info, "expiration", f"{X}.info"),
        strip=r.flag(versioning, "stripVersioningData", at),
        fallback_to_default=r.flag(versioning, "fallbackToDefault", at),
        enabled=r.flag(versioning, "enabled", at),
        name=r.text(versioning, "name", at),
        default=r.text(versioning, "default", at),
        children=children,
        location=location,
        key=key,
        url_pattern=pattern,
    )


def expiry(r: Reader, parent: dict[str, Any], key: str, path: str) -> float | None:
    """Unix seconds of a Tyk expiry date; None for "" or "-1" (never). Tyk treats an unparsable date as
    already expired and refuses every request; a typo is far likelier than intent, so it is an error."""
    text = r.text(parent, key, path)
    if text in ("", "-1"):
        return None
    try:
        if not _EXPIRY.fullmatch(text):
            raise ValueError(text)
        return float(calendar.timegm(time.strptime(text, EXPIRY_FORMAT)))
    except ValueError:
        raise r.fail(
            f"{path}.{key}",
            f'expected a UTC date as "2006-01-02 15:04", or "" or "-1" for never, got {show(text)}',
        ) from None


def _where(r: Reader, block: dict[str, Any], at: str, pattern_key: str) -> tuple[str, str, str]:
    """Where the request names its version: location, key and the URL pattern, all checked."""
    location = r.text(block, "location", at)
    if location and location not in LOCATIONS:
        raise r.fail(
            f"{at}.location", f'expected "header", "url-param" or "url", got {show(block.get("location"))}'
        )
    pattern = r.text(block, pattern_key, at)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise r.fail(
            f"{at}.{pattern_key}", f"expected a regular expression ({exc}), got {show(pattern)}"
        ) from None
    return location, r.text(block, "key", at), pattern


def _children(r: Reader, versions: dict[str, Any], at: str) -> dict[str, str]:
    for name, api_id in versions.items():
        if not isinstance(api_id, str):
            raise r.fail(f"{at}.{name}", f"expected an API id (a string), got {show(api_id)}")
    return dict(versions)
