"""The delivery log over a retained log: each attempt's `state`, a final outcome marked after its attempt was
written, filters and paging, and dead letters judged by each delivery's newest attempt (a failed delivery
resent and delivered is no longer one)."""

from __future__ import annotations

from gateway.delivery.history import Attempt, DeliveryLog, Filter
from gateway.delivery.retained import MemoryBackend, RetainedLog


def attempt(when: float, webhook_id: str, n: int = 1, outcome: str = "retrying", **fields: str) -> Attempt:
    error = "" if outcome == "delivered" else "answered 500"
    status = 200 if outcome == "delivered" else 500
    return Attempt(when, fields.get("api_id", "a"), "h", fields.get("event", "E"), "POST http://x/h",
                   webhook_id, n, status, 1.0, error, outcome)  # fmt: skip


def log() -> DeliveryLog:
    return DeliveryLog(10, RetainedLog("test", MemoryBackend(60.0, 1_000)))


async def never(_: str) -> bool:
    return False


async def test_a_final_outcome_is_applied_whether_or_not_its_attempt_was_written() -> None:
    history = log()
    assert history.retained is not None
    history.record(attempt(1.0, "m1"))
    history.mark_last("a", "h", "m1", "given up")  # still waiting for the flush: amended in place
    history.record(attempt(2.0, "m2"))
    await history.retained.flush()
    history.mark_last("a", "h", "m2", "gone")  # written already: a mark record
    found, after = await history.query(Filter())
    assert [(a["webhook_id"], a["outcome"], a["state"]) for a in found] == [
        ("m2", "gone", "failed"),
        ("m1", "given up", "failed"),
    ]
    assert after is None and history.totals == {"given up": 1, "gone": 1}


async def test_filters_and_paging() -> None:
    history = log()
    for n in range(5):
        history.record(attempt(float(n), f"m{n}", api_id="a" if n % 2 else "b", event="E" if n < 3 else "F"))
    page, after = await history.query(Filter(limit=2))
    assert [a["webhook_id"] for a in page] == ["m4", "m3"] and after is not None
    page, after = await history.query(Filter(limit=2, before=after))
    assert [a["webhook_id"] for a in page] == ["m2", "m1"]
    assert [a["webhook_id"] for a in (await history.query(Filter(api_id="a")))[0]] == ["m3", "m1"]
    assert [a["webhook_id"] for a in (await history.query(Filter(event="F", since=4.0)))[0]] == ["m4"]
    assert (await history.query(Filter(target="http://x/h")))[0][0]["webhook_id"] == "m4"
    assert (await history.query(Filter(status="failed")))[0] == []


async def test_dead_letters_are_judged_by_the_newest_attempt() -> None:
    history = log()
    history.record(attempt(1.0, "m1", outcome="given up"))
    history.record(attempt(2.0, "m2", outcome="gone"))
    history.record(attempt(3.0, "m3", outcome="delivered"))
    history.record(attempt(4.0, "m1", outcome="delivered"))  # m1 resent, delivered

    async def skip_m2(webhook_id: str) -> bool:
        return webhook_id == "m2"

    failed, _ = await history.dead_letters(Filter(status="failed"), never)
    assert [a["webhook_id"] for a in failed] == ["m2"]
    assert (await history.dead_letters(Filter(status="failed"), skip_m2))[0] == []
    delivered, after = await history.dead_letters(Filter(status="delivered", limit=1), never)
    assert [a["webhook_id"] for a in delivered] == ["m1"]
    rest, _ = await history.dead_letters(Filter(status="delivered", before=after), never)
    assert [a["webhook_id"] for a in rest] == ["m3"]
