"""The live feed: every event the bus fires is noted (with or without a handler), keys redacted, the ring
bounded; a follower sees each new event, a slow one loses events (counted) without slowing firing, and
every follower ends when the feed closes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime
from typing import cast

from gateway.config.model import EventsConfig
from gateway.events.bus import EventBus
from gateway.events.catalog import (
    Event,
    EventMessage,
    HostStatusMeta,
    RatelimitExceededMeta,
    TriggerMeta,
    custom_meta,
)
from gateway.events.live import FOLLOWER_QUEUE, Follower, LiveEvent, LiveFeed

KEY = "5f1e0c0ffee0000000000000deadbeef"


def limited(n: int = 0, api: str = "a") -> EventMessage:
    meta = RatelimitExceededMeta(
        "Rate Limit Exceeded", path=f"/p/{n}", origin="10.0.0.1", key=KEY, originating_request="R0VUIC8="
    )
    return EventMessage(Event.RatelimitExceeded, meta, api)


def test_an_event_is_noted_with_its_key_redacted_and_without_its_request() -> None:
    feed = LiveFeed(clock=lambda: 1234.5)
    feed.note(limited())
    (event,) = feed.recent()
    assert event == LiveEvent(
        seq=1,
        time=1234.5,
        event="RatelimitExceeded",
        api_id="a",
        key="****beef",
        message="Rate Limit Exceeded",
        meta={"Message": "Rate Limit Exceeded", "Path": "/p/0", "Origin": "10.0.0.1", "Key": "****beef"},
    )
    assert KEY not in json.dumps(dataclasses.asdict(event))


def test_snake_case_keys_and_odd_meta_values_come_out_redacted_and_json_safe() -> None:
    feed = LiveFeed()
    trigger = TriggerMeta("Quota trigger reached", org_id="o", key=KEY, trigger_limit=80, usage_percentage=80)
    feed.note(EventMessage(Event.TriggerExceeded, trigger))
    feed.note(EventMessage("OrderSeen", custom_meta({"Message": "m", "key": KEY, "when": datetime.now(UTC)})))
    feed.note(EventMessage(Event.HostDown, HostStatusMeta("down", host_info={"hosts": {"h"}})))
    trig, custom, host = feed.recent()
    assert trig.key == "****beef" and trig.meta["key"] == "****beef"
    assert custom.key == "" and custom.meta["key"] == "****beef" and isinstance(custom.meta["when"], str)
    assert host.meta["HostInfo"] == {"hosts": "{'h'}"}
    assert KEY not in json.dumps([dataclasses.asdict(e) for e in (trig, custom, host)])


def test_the_ring_keeps_the_last_events_oldest_first() -> None:
    feed = LiveFeed(size=3)
    for n in range(5):
        feed.note(limited(n))
    assert [e.seq for e in feed.recent()] == [3, 4, 5]
    assert [e.meta["Path"] for e in feed.recent()] == ["/p/2", "/p/3", "/p/4"]


async def test_a_follower_sees_each_new_event_and_ends_when_the_feed_closes() -> None:
    feed = LiveFeed()
    feed.note(limited(0))  # before it followed: in recent() only
    follower = feed.follow()
    feed.note(limited(1))
    feed.note(limited(2))
    feed.close()
    seen = [event.seq async for event in follower]
    assert seen == [2, 3]
    assert [e async for e in feed.follow()] == []  # following a closed feed ends at once


async def test_a_slow_follower_loses_events_counted_and_never_slows_the_bus() -> None:
    feed = LiveFeed()
    bus = EventBus(EventsConfig(), live=feed)
    bus.set_routes({})
    await bus.start()
    slow = cast(Follower, feed.follow())  # never read while the bus fires
    fast = cast(Follower, feed.follow())
    got: list[int] = []

    async def read() -> None:
        async for event in fast:
            got.append(event.seq)

    reader = asyncio.create_task(read())
    assert bus.wants("any", Event.RatelimitExceeded)  # a feed notes events no handler wants
    total = FOLLOWER_QUEUE + 500
    began = time.perf_counter()
    for n in range(total):
        assert bus.fire(limited(n)) == 0  # no handler: queued for none, noted all the same
        if n % 100 == 0:
            await asyncio.sleep(0)  # the fast reader keeps up
    elapsed = time.perf_counter() - began
    assert elapsed < 2.0  # about 10 us an event with two followers; nothing waited on the slow one
    assert slow.dropped == total - FOLLOWER_QUEUE
    await bus.stop()
    feed.close()
    await asyncio.wait_for(reader, 5)
    assert got == list(range(1, total + 1)) and fast.dropped == 0
    assert len([e async for e in slow]) == FOLLOWER_QUEUE - 1  # the end took the oldest one's place
    assert feed.followers == 0


async def test_a_follower_dropped_unread_or_closed_is_forgotten() -> None:
    feed = LiveFeed()
    follower = cast(Follower, feed.follow())
    feed.follow()  # dropped at once without being closed: weakly held, gone
    assert feed.followers == 1
    await follower.aclose()
    assert feed.followers == 0
    feed.note(limited())
    assert [e async for e in follower] == []


def test_without_a_feed_the_bus_builds_nothing_for_events_no_handler_wants() -> None:
    bus = EventBus(EventsConfig())
    bus.set_routes({})
    assert not bus.wants("a", Event.RatelimitExceeded)
