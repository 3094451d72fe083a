"""The outbound policy against real servers on 127.0.0.1: the rules (default deny of link-local and
metadata addresses in every spelling, loopback allowed, deny over allow, an allow-list), the load-time
check of literal URLs, and the connect-time check after one resolution, the connection then made to the
address that was checked. Names resolve through the hosts file (`localhost`) or the resolver seam."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.errors import Refused
from gateway.outbound import Outbound, OutboundRefused, literal_address
from gateway.testing import WebhookRecorder, serve
from tests.pki import PKI


class Resolver:
    """The seam: answers from a table, one list per lookup in turn, and counts the lookups."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {name.replace("_", "."): list(lists) for name, lists in answers.items()}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        found = self.answers[host]
        return found.pop(0) if len(found) > 1 else found[0]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is in outbound.deny (169.254.0.0/16)"),
        ("http://[fe80::1]:8080/", "fe80::1 is in outbound.deny (fe80::/10)"),
        ("http://[fd00:ec2::254]/", "fd00:ec2::254 is in outbound.deny (fd00:ec2::254/128)"),
        ("http://100.100.100.200/", "100.100.100.200 is in outbound.deny (100.100.100.200/32)"),
        ("http://[::ffff:169.254.169.254]/", "169.254.169.254 (from ::ffff:169.254.169.254) is in"),
        ("http://0xa9fea9fe/", "169.254.169.254 (from 0xa9fea9fe) is in outbound.deny"),
        ("http://2852039166/", "169.254.169.254 (from 2852039166) is in outbound.deny"),
        ("http://Metadata.Google.Internal./", "host metadata.google.internal is in outbound.deny"),
    ],
)
def test_the_default_policy_refuses_metadata_and_link_local_as_written(url: str, reason: str) -> None:
    with pytest.raises(Refused) as err:
        Outbound().check_url(url, "apps/a.json", "$.uptime_tests.check_list[0].url")
    assert str(err.value).startswith(f"apps/a.json: $.uptime_tests.check_list[0].url: {url} is refused")
    assert reason in str(err.value)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "http://localhost/", "https://[::1]/", "http://10.1.2.3/"]
)
def test_the_default_policy_lets_the_rest_through(url: str) -> None:
    Outbound().check_url(url, "w", "f")


def test_an_allow_list_decides_literals_at_load_and_names_later() -> None:
    policy = Outbound(allow=["127.0.0.1", "*.hooks.example"], deny=["169.254.0.0/16", "bad.hooks.example"])
    policy.check_url("http://127.0.0.1:8000/", "w", "f")
    policy.check_url("http://a.hooks.example/", "w", "f")
    policy.check_url("http://idp.example/", "w", "f")  # a name: judged on its addresses, when called
    with pytest.raises(Refused, match=r"10\.0\.0\.1 is not in outbound\.allow"):
        policy.check_url("http://10.0.0.1/", "w", "f")
    with pytest.raises(Refused, match=r"host bad\.hooks\.example is in outbound\.deny"):
        policy.check_url("http://bad.hooks.example/", "w", "f")  # deny wins over allow
    assert policy.refusal("hooks.example", None) == ""  # `*.` is for the names under it only
    assert "not in outbound.allow" in policy.refusal("hooks.example", [ipaddress.ip_address("10.0.0.1")])


def test_literal_addresses_in_every_spelling_the_resolver_reads() -> None:
    assert str(literal_address("[::ffff:127.0.0.1]")) == "127.0.0.1"
    assert str(literal_address("0x7f.1")) == "127.0.0.1"
    assert literal_address("cafe.example") is None and literal_address("localhost") is None


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[tuple[WebhookRecorder, int]]:
    recorder = WebhookRecorder()
    async with serve(recorder) as served:
        yield recorder, int(served.url.rsplit(":", 1)[1])


async def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_dialled() -> None:
    """`hooks.test` exists nowhere but in the seam: reaching the receiver proves the connection went to
    the address the policy checked, not to a second lookup. The next connection looks up again, and
    this time the name has been rebound to the metadata address: refused before any connection."""
    resolver = Resolver(hooks_test=[["127.0.0.1"], ["169.254.169.254"]])
    async with receiver() as (recorder, port), Outbound(resolver=resolver).client() as http:
        first = await http.post(
            f"http://hooks.test:{port}/in", content=b"one", headers={"Connection": "close"}
        )
        assert first.status_code == 200 and resolver.lookups == ["hooks.test"]
        with pytest.raises(
            OutboundRefused, match=r"169\.254\.169\.254 \(from hooks\.test\) is in outbound\.deny"
        ):
            await http.post(f"http://hooks.test:{port}/in", content=b"two")
    assert resolver.lookups == ["hooks.test", "hooks.test"]
    assert [d.body for d in recorder.deliveries] == [b"one"]


async def test_a_name_with_one_denied_address_is_refused_whole() -> None:
    resolver = Resolver(mixed_test=[["127.0.0.1", "169.254.169.254"]])
    async with receiver() as (recorder, port), Outbound(resolver=resolver).client() as http:
        with pytest.raises(OutboundRefused):
            await http.get(f"http://mixed.test:{port}/")
    assert recorder.deliveries == []


async def test_an_allow_list_of_127_0_0_1_only_through_the_hosts_file() -> None:
    """`localhost` resolves through /etc/hosts, the system resolver: no seam."""
    async with receiver() as (recorder, port):
        async with Outbound(allow=["127.0.0.1"]).client() as http:
            assert (await http.post(f"http://localhost:{port}/ok")).status_code == 200
        async with Outbound(allow=["10.0.0.0/8"]).client() as http:
            with pytest.raises(
                OutboundRefused, match=r"127\.0\.0\.1 \(from localhost\) is not in outbound\.allow"
            ):
                await http.post(f"http://localhost:{port}/no")
        async with Outbound(deny=["127.0.0.0/8", "::1"]).client() as http:
            with pytest.raises(
                OutboundRefused, match=r"127\.0\.0\.1 \(from localhost\) is in outbound\.deny"
            ):
                await http.post(f"http://localhost:{port}/no")
    assert [d.path for d in recorder.deliveries] == ["/ok"]


async def test_a_redirect_to_a_denied_address_is_refused_at_that_hop() -> None:
    async def redirect(scope: dict[str, object], receive: object, send: object) -> None:
        assert callable(send)
        location = (b"location", b"http://169.254.169.254/latest/meta-data/")
        await send({"type": "http.response.start", "status": 302, "headers": [location]})
        await send({"type": "http.response.body", "body": b""})

    async with serve(redirect) as served, Outbound().client(follow_redirects=True) as http:
        with pytest.raises(OutboundRefused, match=r"169\.254\.169\.254 is in outbound\.deny"):
            await http.get(served.url + "/health")


async def test_a_name_that_does_not_resolve_is_an_ordinary_connect_error() -> None:
    async def nowhere(host: str, port: int) -> list[str]:
        raise OSError(f"{host}: no such name")

    async with Outbound(resolver=nowhere).client() as http:
        with pytest.raises(httpx.ConnectError, match="no such name") as err:
            await http.get("http://nowhere.test/")
    assert not isinstance(err.value, OutboundRefused)


async def test_the_raw_dial_of_tcp_checks_goes_through_the_policy() -> None:
    greeted = asyncio.Event()

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello\n")
        await writer.drain()
        greeted.set()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = Outbound(resolver=Resolver(db_test=[["127.0.0.1"]], meta_test=[["169.254.169.254"]]))
    async with server:
        reader, writer = await policy.open_connection("db.test", port)
        assert await reader.readline() == b"hello\n"
        writer.close()
        with pytest.raises(OutboundRefused):
            await policy.open_connection("meta.test", port)
    assert greeted.is_set()


async def test_tls_is_verified_against_the_name_not_the_address_dialled() -> None:
    """The test certificate names `localhost` and 127.0.0.1: reached as `localhost` it verifies; reached
    as `hooks.test` (the seam resolves it to 127.0.0.1 too) it does not, though the address is the same."""
    pki = PKI()
    resolver = Resolver(localhost=[["127.0.0.1"]], hooks_test=[["127.0.0.1"]])
    async with serve(WebhookRecorder(), ssl=pki.server_context()) as served:
        port = served.url.rsplit(":", 1)[1]
        async with Outbound(resolver=resolver).client(verify=pki.client_context()) as http:
            assert (await http.get(f"https://localhost:{port}/")).status_code == 200
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await http.get(f"https://hooks.test:{port}/")
    assert resolver.lookups == ["localhost", "hooks.test"]
