"""tyk.conf `outbound` (ours): the networks and host names the gateway may call on its own (webhooks,
uptime checks, JWKS, upstream OAuth token requests), with its default deny list.

Owns the section's shape, its defaults and what one entry may be (`parse_entry`, which config/check.py
runs on every entry at load). It must not resolve or connect: gateway/outbound.py applies the lists.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Link-local networks, where every cloud keeps its instance metadata service (AWS, GCP, Azure, Oracle and
# DigitalOcean at 169.254.169.254), AWS's IPv6 one, Alibaba Cloud's (outside link-local), and the names
# that lead there. A webhook or JWKS URL a REST API caller chooses must not read the host's credentials.
DEFAULT_DENY = (
    "169.254.0.0/16",
    "fe80::/10",
    "fd00:ec2::254",
    "100.100.100.200",
    "metadata.google.internal",
    "metadata.goog",
    "instance-data",
    "instance-data.ec2.internal",
)

# A host name, or `*.` and a name for every name under it (not the name itself).
_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


@dataclass(frozen=True, slots=True)
class OutboundConfig:
    """`deny` wins over `allow`; an empty `allow` lets through everything `deny` does not name, a
    non-empty one only what it names. Giving `deny` replaces the default list. Loopback is allowed by
    default: local receivers and demos live there. The proxy's own upstream is not subject to this."""

    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=lambda: list(DEFAULT_DENY))


def parse_entry(entry: Any) -> Network | str:
    """One entry: a network ("10.0.0.0/8"), an address (a network of one) or a host name ("*.internal"
    for the names under it), lower-cased without a trailing dot. ValueError for anything else."""
    if not isinstance(entry, str):
        raise ValueError(f"expected a string, got {type(entry).__name__}")
    text = entry.strip().lower()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    name = text.removesuffix(".")
    if len(name) > 253 or not _NAME.fullmatch(name) or name.replace(".", "").isdigit():
        raise ValueError("expected a network, an address or a host name")
    return name
