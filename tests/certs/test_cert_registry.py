"""Which upstream certificate an API presents: Tyk's host, wildcard and `*` matching, https only."""

from __future__ import annotations

import pytest

from gateway.certs.registry import upstream_ref

MAPPING = [
    ("api.example.com:8443", "port"),
    ("api.example.com", "host"),
    ("*.example.com", "wild"),
    ("*", "any"),
]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("https://api.example.com:8443/x", "port"),
        ("https://API.example.com/x", "host"),
        ("https://other.example.com/", "wild"),
        ("https://deep.api.example.com/", "wild"),
        ("https://elsewhere.org/", "any"),
        ("http://api.example.com/", None),
    ],
)
def test_the_most_specific_mapping_wins(target: str, expected: str | None) -> None:
    found = upstream_ref(MAPPING, target)
    assert (found[1] if found else None) == expected


def test_no_mapping_no_certificate() -> None:
    assert upstream_ref([("a.example", "x")], "https://b.example/") is None
