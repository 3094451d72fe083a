"""Digest counting on every store: events suppressed under one cooldown holder add up to one digest
(count, first and last time, the last body), taken out once; the digest timer hands it over after the
cooldown, and a stop hands every pending one over at once."""

from __future__ import annotations

import asyncio
import json

from gateway.delivery import cooldown, digest
from gateway.store.base import Store


async def test_suppressed_events_add_up_under_the_holder(store: Store) -> None:
    reservation = cooldown.key("feedface")
    assert await cooldown.reserve(store, reservation, "msg_first", 60)
    for n in range(4):
        assert await digest.count(
            store, reservation, 60, "RatelimitExceeded", f'{{"n":{n}}}'.encode(), f"r{n}"
        )
    found = await digest.collect(store, "msg_first")
    assert found is not None
    assert (found.count, found.event, found.body, found.request_id) == (
        4,
        "RatelimitExceeded",
        b'{"n":3}',
        "r3",
    )
    assert found.first <= found.last
    assert await digest.collect(store, "msg_first") is None  # taken out: sent once
    body, headers = digest.message(found, False, "msg_digest")
    assert json.loads(body)["suppressed_count"] == 4 and dict(headers)["X-Tyk-Suppressed-Count"] == "4"


async def test_nothing_is_counted_without_a_holder(store: Store) -> None:
    assert not await digest.count(store, cooldown.key("0ff"), 60, "X", b"{}", "")
    assert await digest.collect(store, "nobody") is None


async def test_the_timer_fires_once_after_the_cooldown(store: Store) -> None:
    reservation = cooldown.key("abc")
    assert await cooldown.reserve(store, reservation, "msg_t", 60)
    await digest.count(store, reservation, 60, "X", b"{}", "")
    fired: asyncio.Queue[digest.Suppressed] = asyncio.Queue()
    assert digest.arm(store, "msg_t", 0.01, fired.put)
    found = await asyncio.wait_for(fired.get(), 5)
    assert found.count == 1
    for _ in range(100):  # its task ends right after handing it over: yield until it has
        if not digest.pending(store):
            break
        await asyncio.sleep(0)
    assert digest.pending(store) == 0


async def test_a_stop_flushes_pending_digests_now(store: Store) -> None:
    reservation = cooldown.key("f1a5")
    assert await cooldown.reserve(store, reservation, "msg_f", 60)
    await digest.count(store, reservation, 60, "X", b"{}", "")
    await digest.count(store, reservation, 60, "X", b"{}", "")
    fired: list[digest.Suppressed] = []

    async def fire(found: digest.Suppressed) -> None:
        fired.append(found)

    assert digest.arm(store, "msg_f", 60, fire)
    assert digest.arm(store, "msg_empty", 60, fire)  # nothing suppressed: nothing sent
    assert await digest.flush(store, 5.0) == 2
    assert [f.count for f in fired] == [2] and digest.pending(store) == 0
