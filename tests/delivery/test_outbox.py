"""Every durable outbox (the embedded store's file, the Redis Stream): add, take, finish, and what a
restarted gateway finds: every delivery added and not finished, its id, body and secrets intact."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.delivery.conftest import Outboxes, delivery


async def test_add_take_finish(outboxes: Outboxes) -> None:
    outbox = outboxes.open()
    added = [delivery(n) for n in range(3)]
    for d in added:
        await outbox.add(d)
    assert await outbox.backlog() == 3
    first = await outbox.take(2, 0)
    rest = await outbox.take(10, 0)
    assert [d.id for d in first + rest] == [d.id for d in added]
    assert first[0] == added[0]  # the whole record round-trips
    for d in added:
        await outbox.finish(d.id)
    assert await outbox.backlog() == 0
    assert await outbox.take(10, 0.01) == []


async def test_take_wakes_up_on_add(outboxes: Outboxes) -> None:
    outbox = outboxes.open()
    assert await outbox.take(5, 0) == []  # the Redis outbox now blocks on new entries only
    waiting = asyncio.create_task(outbox.take(5, 30))
    await asyncio.sleep(0)  # let it start waiting (not a wait for a result)
    added = delivery(secrets=("whsec_c2VjcmV0",))
    await outbox.add(added)
    # Redis: an entry added before or during the blocking read is returned by it either way.
    assert await waiting == [added]


async def test_unfinished_deliveries_survive_a_restart(outboxes: Outboxes) -> None:
    outbox = outboxes.open()
    done, taken, waiting = (delivery(n, secrets=("whsec_a", "whsec_b")) for n in range(3))
    for d in (done, taken, waiting):
        await outbox.add(d)
    assert await outbox.take(2, 0) == [done, taken]
    await outbox.finish(done.id)
    await outbox.close()

    again = outboxes.open()  # a restarted gateway (the same consumer name on Redis)
    assert await again.backlog() == 2
    found = await again.take(10, 0) + await again.take(10, 0)
    assert found == [taken, waiting]  # ids, bodies and (unsealed) secrets as they were added
    for d in found:
        await again.finish(d.id)
    await again.close()
    assert await outboxes.open().take(10, 0) == []


async def test_secrets_are_sealed_at_rest_and_need_the_same_gateway_secret(
    outboxes: Outboxes, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = outboxes.open()
    await outbox.add(delivery(secrets=("whsec_TOPSECRETVALUE",), headers=(("X-Token", "HEADERSECRET"),)))
    await outbox.close()
    if outboxes.kind == "file":
        at_rest = (outboxes.folder / "outbox.aof").read_text()
    else:
        at_rest = str(await outbox._client.xrange(outbox.stream))
    assert "QuotaExceeded" in at_rest
    assert "TOPSECRETVALUE" not in at_rest and "HEADERSECRET" not in at_rest
    caplog.set_level(logging.WARNING)
    other = outboxes.open(secret="another-secret")
    assert await other.take(10, 0) == []
    assert "another gateway secret" in caplog.text
