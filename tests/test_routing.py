"""RouteTable: Tyk's longest-listen-path match, host-specific before any-host, case-insensitive hosts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.apidef.model import APISpec
from gateway.app.front import _host
from gateway.config.model import from_dict
from gateway.routing import APIRoute, RouteTable
from gateway.upstream.balancer import DownHosts
from gateway.upstream.proxy import AiohttpUpstream


def route(api_id: str, listen: str, domain: str = "") -> APIRoute:
    spec = APISpec(
        api_id=api_id,
        name=api_id,
        org_id="",
        listen_path=listen,
        target_url="http://127.0.0.1:1",
        domain=domain,
    )
    services: Any = type("S", (), {"config": from_dict({}, base_dir=Path("."), environ={})})()
    return APIRoute(spec, services, AiohttpUpstream(), DownHosts())


def test_longest_listen_path_and_host_specific_first() -> None:
    table = RouteTable(
        [route("root", "/"), route("a", "/a/"), route("ab", "/a/b/"), route("host", "/a/", "Ex.com")]
    )

    def match(host: str, path: str) -> str | None:
        found = table.match(host, path)
        return found.spec.api_id if found else None

    assert match("", "/a/b/c") == "ab" and match("", "/a/x") == "a" and match("", "/a") == "a"
    assert match("ex.com", "/a/x") == "host" and match("", "/ab") == "root" and match("", "/zzz") == "root"
    assert RouteTable([route("a", "/a/")]).match("", "/b") is None


def test_host_header_parsing() -> None:
    hosts = {b"Example.COM:8080": "example.com", b"[::1]:8080": "[::1]", b"[::1]": "[::1]", b"h": "h"}
    for raw, expected in hosts.items():
        assert _host({"headers": [(b"host", raw)]}) == expected
