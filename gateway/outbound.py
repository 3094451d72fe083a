"""The outbound policy applied to what the gateway calls on its own (webhooks, uptime checks, JWKS,
upstream OAuth): literal URLs judged at load; at connect, a name resolved once, every address checked,
and that checked address dialled (an httpx transport, a raw dial), so no second lookup can rebind it.
It must not govern the proxy's upstream (the operator's target_url) and never reads tyk.conf itself."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlsplit

import httpcore
import httpx

from gateway.config.outbound import DEFAULT_DENY, Network, OutboundConfig, parse_entry
from gateway.errors import Refused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]
_NUMERIC = re.compile(r"[0-9a-fx.]+")  # what inet_aton also reads as IPv4: 0xa9fea9fe, 2852039166


class OutboundRefused(httpx.ConnectError):
    """A connection the policy refuses: final, never worth a retry. An httpx.ConnectError, so every
    caller's existing error handling (delivery log, JWKS warning, token error, failed probe) takes it."""


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the operating system gives for `host` (hosts file, then DNS), first one first."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Outbound:
    """The compiled allow and deny lists; `resolver` is the seam tests use to make a name resolve to an
    address of their choosing (the real one is the system's)."""

    def __init__(
        self,
        allow: Iterable[str] = (),
        deny: Iterable[str] = DEFAULT_DENY,
        *,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow, self.deny = _compile(allow), _compile(deny)
        self.allowing = bool(self.allow[0] or self.allow[1])
        self.resolver = resolver

    @classmethod
    def from_config(cls, config: OutboundConfig, *, resolver: Resolver = system_resolver) -> Outbound:
        return cls(config.allow, config.deny, resolver=resolver)

    def refusal(self, host: str, addresses: Sequence[Address] | None) -> str:
        """Why `host` (resolved to `addresses`) may not be called, or "". `addresses` None: the name alone
        is judged (at load), and what only its addresses can decide is left to connect time."""
        name = host.lower().strip("[]").removesuffix(".")
        denied_name = next((rule for rule in self.deny[1] if _named(rule, name)), None)
        if denied_name is not None:
            return f"host {name} is in outbound.deny ({denied_name})"
        for address in addresses or ():
            net = next((n for n in self.deny[0] if address in n), None)
            if net is not None:
                return f"{_shown(name, address)} is in outbound.deny ({net})"
        if not self.allowing or any(_named(rule, name) for rule in self.allow[1]):
            return ""
        for address in addresses or ():
            if not any(address in n for n in self.allow[0]):
                return f"{_shown(name, address)} is not in outbound.allow"
        return ""

    def check_url(self, url: str, where: str, label: str) -> None:
        """At load: Refused naming `where` and `label` (the field) when the URL's host is an address or a
        name the policy refuses by itself; a name that must be resolved first is judged when called."""
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            return  # malformed: the field's own check says so
        literal = literal_address(host)
        reason = self.refusal(host, None if literal is None else [literal])
        if reason:
            raise Refused(where, f"{label}: {url} is refused by the outbound policy: {reason}")

    async def resolve(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """Every address of `host`, resolved once and each one checked; OutboundRefused when any is
        refused (a name is trusted whole or not at all), OSError or TimeoutError when it does not resolve."""
        literal = literal_address(host)
        if literal is not None:
            found = [str(literal)]
        else:
            found = await asyncio.wait_for(self.resolver(host, port), timeout)
        addresses = [_plain(ipaddress.ip_address(a.split("%")[0])) for a in found]
        reason = self.refusal(host, addresses)
        if reason:
            raise OutboundRefused(f"refused by the outbound policy: {reason}")
        return found

    async def open_connection(
        self, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP (or TLS, verified against `host`) connection to the first resolved address that takes it."""
        last: OSError = OSError(f"{host} has no address")
        for address in await self.resolve(host, port):
            try:
                return await asyncio.open_connection(
                    address, port, ssl=ssl_context, server_hostname=host if ssl_context else None
                )
            except OSError as exc:
                last = exc
        raise last

    def client(
        self, *, timeout: float = 5.0, follow_redirects: bool = False, verify: ssl.SSLContext | None = None
    ) -> httpx.AsyncClient:
        """An httpx client whose every connection, redirects included, goes through this policy; TLS
        verified by `verify`, else by httpx's default context."""
        transport = _Transport(self, verify or httpx.create_ssl_context())
        return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=follow_redirects)


class _Backend(httpcore.AsyncNetworkBackend):
    """httpcore's network layer with the policy in front: the name resolved and checked here, then the
    connection opened to the checked address itself (TLS still verifies the name: httpcore gives it)."""

    def __init__(self, outbound: Outbound) -> None:
        self._outbound = outbound
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._outbound.resolve(host, port, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"{host}: name resolution timed out") from None
        except OSError as exc:  # as httpcore's own backend reports a failed lookup
            raise httpcore.ConnectError(f"{host}: {exc}") from None
        last: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not outbound targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _Transport(httpx.AsyncHTTPTransport):
    """httpx's transport over `_Backend`: httpx takes no network backend, httpcore's pool does, so the pool
    is rebuilt with httpx's defaults. Proxies from the environment do not apply (they would resolve the
    name where the policy cannot see it)."""

    def __init__(self, outbound: Outbound, ssl_context: ssl.SSLContext) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_Backend(outbound),
        )


def literal_address(host: str) -> Address | None:
    """`host` as an address when it is one, in any form the resolver would read as one (0xa9fea9fe)."""
    text = host.strip("[]").split("%")[0]
    try:
        return _plain(ipaddress.ip_address(text))
    except ValueError:
        pass
    if _NUMERIC.fullmatch(text.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _compile(entries: Iterable[str]) -> tuple[list[Network], list[str]]:
    parsed = [parse_entry(e) for e in entries]
    return [p for p in parsed if not isinstance(p, str)], [p for p in parsed if isinstance(p, str)]


def _named(rule: str, name: str) -> bool:
    return name.endswith(rule[1:]) if rule.startswith("*.") else name == rule


def _plain(address: Address) -> Address:
    """An IPv4-mapped IPv6 address (::ffff:169.254.169.254) judged as the IPv4 address it reaches."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _shown(name: str, address: Address) -> str:
    return str(address) if name == str(address) else f"{address} (from {name})"
