"""HMAC request signing in both formats (Classic `enable_signature_checking`, `hmac_allowed_*` and
`auth_configs.hmac`; OAS `server.authentication.hmac`). Pure parsing, no I/O. An allowed algorithm Tyk does
not know is refused naming the field; `rsa-sha256` is refused by name (RSA is not implemented, and an API
allowing it must not load as if it worked).
"""

from __future__ import annotations

from typing import Any

from gateway.apidef.common import Reader, classic_source, oas_source, show
from gateway.apidef.model import HMACSpec

# Tyk's supportedAlgorithms (mw_request_signing.go), less the RSA one this gateway refuses.
ALGORITHMS = ("hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512")
RSA = "rsa-sha256"
RSA_SIGNING = "RSA request signing (rsa-sha256)"


def _algorithms(r: Reader, fields: dict[str, Any], name: str, at: str) -> tuple[str, ...]:
    listed = r.items(fields, name, at)
    for i, algorithm in enumerate(listed):
        path = f"{at}.{name}[{i}]"
        if algorithm == RSA:
            raise r.unsupported(path, RSA_SIGNING, algorithm)
        if algorithm not in ALGORITHMS:
            expected = ", ".join(repr(a) for a in ALGORITHMS)
            raise r.fail(path, f"expected one of {expected}, got {show(algorithm)}")
    return tuple(listed)


def classic(r: Reader, doc: dict[str, Any]) -> HMACSpec | None:
    if not r.flag(doc, "enable_signature_checking", "$") or r.flag(doc, "use_keyless", "$"):
        return None
    # Tyk reads only `auth_configs.hmac` for HMAC (never the deprecated top-level `auth`).
    block = r.obj(r.obj(doc, "auth_configs", "$"), "hmac", "$.auth_configs")
    return HMACSpec(
        source=classic_source(r, block, "$.auth_configs.hmac", r.flag(doc, "strip_auth_data", "$")),
        allowed_algorithms=_algorithms(r, doc, "hmac_allowed_algorithms", "$"),
        clock_skew_ms=r.number(doc, "hmac_allowed_clock_skew", "$"),
    )


def oas(r: Reader, auth: dict[str, Any], path: str, strip: bool) -> HMACSpec | None:
    """`server.authentication.hmac` when enabled; as in Tyk, without a `header` block no header is read."""
    at = f"{path}.hmac"
    block = r.obj(auth, "hmac", path)
    if not r.flag(block, "enabled", at):
        return None
    return HMACSpec(
        source=oas_source(r, block, at, strip),
        allowed_algorithms=_algorithms(r, block, "allowedAlgorithms", at),
        clock_skew_ms=r.number(block, "allowedClockSkew", at),
    )
