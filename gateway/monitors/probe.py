"""One uptime check, run once: an HTTP(S) request or a TCP/TLS dial with send/expect steps.

Tyk's rules (gateway/host_checker.go): HTTP checks send `Connection: close` and are healthy only on
status 200 exactly; a transport failure is a "TCP error" with response code 0; a TCP check that
connected reports 200 even when a send/expect step then fails. Every connection goes through the
outbound policy (a refused address raises, for the checker to log). It never decides up or down,
and never touches the store or the event bus: `gateway.monitors.uptime` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gateway.apidef.model import UptimeCheck
from gateway.outbound import Outbound, OutboundRefused

# Tyk's health-check client timeout (external_services.health) when a check sets none.
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Outcome:
    response_code: int  # 0 when the request or the connection failed
    latency_ms: float
    tcp_error: bool

    @property
    def healthy(self) -> bool:
        return not self.tcp_error and self.response_code == 200


async def probe(check: UptimeCheck, client: httpx.AsyncClient, outbound: Outbound | None = None) -> Outcome:
    """Run `check` within its timeout (the default when 0); never raises for a failed check, but raises
    OutboundRefused for a refused one, so the checker logs why. `client` is the checker's (built on the
    same policy); TCP and TLS checks dial through `outbound`."""
    timeout = check.timeout or DEFAULT_TIMEOUT
    started = time.perf_counter()
    try:
        # One deadline for the whole check: httpx's own timeout is per phase (connect, read, ...).
        if check.kind in ("tcp", "tls"):
            code, tcp_error = await asyncio.wait_for(_dial(check, outbound or Outbound()), timeout)
        else:
            code, tcp_error = await asyncio.wait_for(_request(check, client, timeout), timeout)
    except OutboundRefused:
        raise  # an httpx error too, but a verdict on the check's address, not on the host's health
    except (OSError, TimeoutError, httpx.HTTPError, ssl.SSLError):
        code, tcp_error = 0, True
    return Outcome(code, (time.perf_counter() - started) * 1000, tcp_error)


async def _request(check: UptimeCheck, client: httpx.AsyncClient, timeout: float) -> tuple[int, bool]:
    headers = dict(check.headers)
    headers["Connection"] = "close"  # Tyk's checker never reuses a connection
    response = await client.request(
        check.method or "GET",
        check.url,
        headers=headers,
        content=check.body.encode() if check.body else None,
        timeout=timeout,
    )
    await response.aclose()
    return response.status_code, False


async def _dial(check: UptimeCheck, outbound: Outbound) -> tuple[int, bool]:
    split = urlsplit(f"{check.kind}://{check.host}")
    context = ssl.create_default_context() if check.kind == "tls" else None
    reader, writer = await outbound.open_connection(
        split.hostname or "", split.port or 0, ssl_context=context
    )
    try:
        for name, message in check.commands:
            data = message.encode()
            if name == "send":
                writer.write(data)
                await writer.drain()
            elif await reader.read(len(data)) != data:
                return 200, True  # connected, then the conversation failed: Tyk's IsTCPError with 200
        return 200, False
    except OSError:
        return 200, True
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
