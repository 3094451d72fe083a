"""tyk.conf `outbound`: the default deny list, what an entry may be, one exact line for a bad one (file or
TYK_GW_* variable), and no unknown-key warning for the section."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from gateway.config import model as config
from gateway.config.outbound import DEFAULT_DENY, parse_entry
from gateway.errors import ConfigError


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "tyk.conf"
    path.write_text(json.dumps(data))
    return path


def test_by_default_link_local_and_metadata_are_denied_and_nothing_is_allow_listed(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, {}), environ={})
    assert cfg.outbound.allow == [] and cfg.outbound.deny == list(DEFAULT_DENY)
    networks = [e for e in map(parse_entry, DEFAULT_DENY) if not isinstance(e, str)]
    for address in ("169.254.169.254", "fe80::1", "fd00:ec2::254", "100.100.100.200"):
        assert any(ipaddress.ip_address(address) in n for n in networks), address
    assert not any(ipaddress.ip_address("127.0.0.1") in n for n in networks)  # local receivers and demos
    assert "metadata.google.internal" in DEFAULT_DENY


def test_the_lists_load_from_the_file_and_the_environment_without_warnings(tmp_path: Path) -> None:
    warnings: list[str] = []
    raw = {"outbound": {"allow": ["127.0.0.1", "10.0.0.0/8", "*.hooks.example"], "deny": []}}
    cfg = config.load(write(tmp_path, raw), environ={}, warn=warnings.append)
    assert cfg.outbound.allow == ["127.0.0.1", "10.0.0.0/8", "*.hooks.example"] and cfg.outbound.deny == []
    assert warnings == []
    cfg = config.load(write(tmp_path, {}), environ={"TYK_GW_OUTBOUND_DENY": '["192.168.0.0/16"]'})
    assert cfg.outbound.deny == ["192.168.0.0/16"]


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("169.254.169.254", ipaddress.ip_network("169.254.169.254/32")),
        ("10.1.2.3/8", ipaddress.ip_network("10.0.0.0/8")),
        ("[fd00:ec2::254]", ipaddress.ip_network("fd00:ec2::254/128")),
        ("Metadata.Google.Internal.", "metadata.google.internal"),
        ("*.internal", "*.internal"),
    ],
)
def test_an_entry_is_a_network_an_address_or_a_host_name(entry: str, parsed: object) -> None:
    assert parse_entry(entry) == parsed


@pytest.mark.parametrize("entry", ["bad name!", "", "*", "10.0.0.0/33", "1.2.3.4.5", "a..b"])
def test_a_bad_entry_is_one_exact_line(tmp_path: Path, entry: str) -> None:
    path = write(tmp_path, {"outbound": {"deny": ["169.254.0.0/16", entry]}})
    with pytest.raises(ConfigError) as err:
        config.load(path, environ={})
    assert str(err.value) == (
        f'{path}: key "outbound.deny[1]": expected a network ("10.0.0.0/8"), an address or a host name '
        f'("*.internal"), got {json.dumps(entry)}'
    )


def test_a_bad_entry_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, {}), environ={"TYK_GW_OUTBOUND_ALLOW": "[80]"})
    assert str(err.value).startswith('environment TYK_GW_OUTBOUND_ALLOW: key "outbound.allow[0]": expected')
