"""The webhook cooldown's one owner, on every store: a reservation is taken once, and released only by
the delivery that holds it (a later event's reservation survives an older delivery giving up)."""

from __future__ import annotations

from gateway.delivery import cooldown
from gateway.store.base import Store


async def test_reserve_once_then_release_only_by_the_holder(store: Store) -> None:
    key = cooldown.key("0123abcd")
    assert key == "webhook.cache.0123abcd"  # Tyk's key: a Tyk gateway on the same Redis shares it
    assert await cooldown.reserve(store, key, "first", 60)
    assert not await cooldown.reserve(store, key, "second", 60)
    await cooldown.release(store, key, "second")  # not the holder: nothing freed
    assert not await cooldown.reserve(store, key, "third", 60)
    await cooldown.release(store, key, "first")
    assert await cooldown.reserve(store, key, "fourth", 60)
