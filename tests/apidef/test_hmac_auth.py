"""HMAC request signing in both formats: where the `Signature` credential is read (auth_configs.hmac, the
OAS header/query/cookie blocks), the allowed algorithms and the clock skew, Tyk's rule that the auth token
does not join it unless asked, the identity setting, Tyk's own HMAC-off files loading, and what is refused
by name (an algorithm Tyk lacks, RSA)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.apidef.loader import parse
from gateway.apidef.model import AuthTokenSpec, HMACSpec
from gateway.errors import ConfigError
from tests.apidef.test_fields import classic, oas_doc
from tests.corpus import corpus

HMAC_PATH = "$.x-tyk-api-gateway.server.authentication.hmac"


def hmac_oas(hmac: dict[str, Any], **auth: Any) -> dict[str, Any]:
    authentication = {"enabled": True, "hmac": {"enabled": True, **hmac}, **auth}
    return oas_doc({"server": {"authentication": authentication}})


def test_classic_hmac_alone_and_with_the_auth_token() -> None:
    alone = parse(
        classic(
            enable_signature_checking=True,
            hmac_allowed_algorithms=["hmac-sha256", "hmac-sha512"],
            hmac_allowed_clock_skew=5000,
            auth_configs={"hmac": {"auth_header_name": "X-Signature", "use_param": True}},
        ),
        "c.json",
    )
    source = AuthTokenSpec("X-Signature", True, True, "X-Signature", False, "X-Signature")
    assert alone.hmac == HMACSpec(source, ("hmac-sha256", "hmac-sha512"), 5000.0)
    assert alone.auth is None and not alone.keyless  # Tyk: an HMAC-only API gets no token check
    # The deprecated top-level `auth` is never HMAC's source; the default is the Authorization header.
    default = parse(classic(enable_signature_checking=True, auth={"auth_header_name": "X-Key"}), "c.json")
    assert default.hmac == HMACSpec() and default.hmac.source.header_name == "Authorization"
    both = parse(
        classic(
            enable_signature_checking=True,
            use_standard_auth=True,
            strip_auth_data=True,
            base_identity_provided_by="hmac_key",
            auth_configs={"authToken": {"auth_header_name": "X-Key"}},
        ),
        "c.json",
    )
    assert both.hmac is not None and both.hmac.source.strip_auth_data
    assert both.auth is not None and both.auth.header_name == "X-Key" and both.identity == "hmac_key"
    keyless = parse(classic(enable_signature_checking=True, use_keyless=True), "c.json")
    assert keyless.hmac is None and keyless.keyless  # Tyk: use_keyless wins over every method


def test_a_skew_of_zero_or_below_is_kept_as_written() -> None:
    for skew in (0, -1, 2.5):
        spec = parse(classic(enable_signature_checking=True, hmac_allowed_clock_skew=skew), "c.json")
        assert spec.hmac is not None and spec.hmac.clock_skew_ms == skew


def test_oas_hmac_block() -> None:
    spec = parse(
        hmac_oas(
            {
                "header": {"enabled": True, "name": "X-Sig"},
                "cookie": {"enabled": True, "name": "sig"},
                "allowedAlgorithms": ["hmac-sha1"],
                "allowedClockSkew": 1500,
            },
            baseIdentityProvider="hmac_key",
            stripAuthorizationData=True,
        ),
        "o.json",
    )
    source = AuthTokenSpec("X-Sig", True, False, "X-Sig", True, "sig", strip_auth_data=True)
    assert spec.hmac == HMACSpec(source, ("hmac-sha1",), 1500.0)
    assert spec.auth is None and spec.identity == "hmac_key"
    # As in Tyk (AuthSources.ExtractTo), a missing `header` block means the header is not read.
    quiet = parse(hmac_oas({"query": {"enabled": True, "name": "sig"}}), "o.json").hmac
    assert quiet is not None and not quiet.source.use_header and quiet.source.param_name == "sig"
    off = parse(hmac_oas({"header": {"enabled": True}}, enabled=False), "o.json")
    assert off.hmac is None and off.keyless


def test_oas_hmac_named_in_security_requirements_loads() -> None:
    """`hmac` is Tyk's proprietary scheme name: a security requirement naming it declares no component."""
    doc = hmac_oas({"header": {"enabled": True}}, security=[["hmac"]])
    doc["security"] = [{"hmac": []}]
    spec = parse(doc, "o.json")
    assert spec.hmac is not None and spec.auth is None


@pytest.mark.parametrize(
    ("raw", "path", "shown"),
    [
        (
            classic(enable_signature_checking=True, hmac_allowed_algorithms=["sha256"]),
            "$.hmac_allowed_algorithms[0]",
            '"sha256"',
        ),
        (
            classic(enable_signature_checking=True, hmac_allowed_algorithms=[1]),
            "$.hmac_allowed_algorithms[0]",
            "1",
        ),
        (
            classic(enable_signature_checking=True, hmac_allowed_clock_skew="5"),
            "$.hmac_allowed_clock_skew",
            '"5"',
        ),
        (
            hmac_oas({"allowedAlgorithms": ["rsa-sha256"]}),
            f"{HMAC_PATH}.allowedAlgorithms[0]",
            "RSA request signing",
        ),
        (
            hmac_oas({"allowedAlgorithms": ["hmac-sha1", "none"]}),
            f"{HMAC_PATH}.allowedAlgorithms[1]",
            '"none"',
        ),
        (hmac_oas({"header": {"enabled": "yes"}}), f"{HMAC_PATH}.header.enabled", '"yes"'),
    ],
)
def test_refused_naming_the_file_and_the_field(raw: dict[str, Any], path: str, shown: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(raw, "signed.json")
    assert info.value.where == "signed.json"
    assert info.value.reason.startswith(path + ":") and shown in info.value.reason, info.value.reason


def test_tyks_own_files_with_hmac_switched_off_load_without_it() -> None:
    """Tyk's corpus has no HMAC-enabled definition; its files carrying the HMAC fields switched off (a skew
    of -1, empty algorithms, an auth_configs.hmac block) load, or fail on something else, never on HMAC."""
    files = [
        f for f in sorted((corpus() / "apps").glob("*.json")) if "enable_signature_checking" in f.read_text()
    ]
    assert len(files) >= 3
    loaded = 0
    for file in files:
        try:
            spec = parse(json.loads(file.read_text()), file.name)
        except ConfigError as exc:
            assert "hmac" not in exc.reason and "signature" not in exc.reason, exc.reason
            continue
        assert spec.hmac is None
        loaded += 1
    assert loaded >= 3
