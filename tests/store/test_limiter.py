"""The limiter never lets more through than configured, whole or fractional."""

from __future__ import annotations

from limits.aio.storage import MemoryStorage

from gateway.store.limiter import Limiter


async def test_fractional_rates_are_never_rounded_up() -> None:
    limiter = Limiter(MemoryStorage())
    assert [await limiter.hit("a", 2.5, 10) for _ in range(3)] == [True, True, False]
    half = limiter._item(0.5, 1)  # 0.5 per second is one per two seconds
    assert (half.amount, half.get_expiry()) == (1, 2)
    assert [await limiter.hit("b", 0.5, 1) for _ in range(2)] == [True, False]
