"""The embedded store's keys in memory: values, their deadlines on the internal clock, an expiry heap,
and their journal records both ways (a change as a record, a replayed record as a change).

Pure data and arithmetic: no files, no awaits, no knowledge of the Store protocol's operations.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Any


class Keyspace:
    __slots__ = ("_expiries", "deadlines", "offset", "values")

    def __init__(self, offset: float) -> None:
        self.values: dict[str, str] = {}
        self.deadlines: dict[str, float] = {}
        # (deadline, key) heap; entries may be stale, but every key in deadlines has one due no later.
        self._expiries: list[tuple[float, str]] = []
        self.offset = offset  # wall seconds = internal + offset, fixed for one run

    def expire(self, now: float) -> None:
        """Drop every key whose deadline is `now` or earlier."""
        heap = self._expiries
        while heap and heap[0][0] <= now:
            _, key = heapq.heappop(heap)
            deadline = self.deadlines.get(key)
            if deadline is None:
                continue
            if deadline <= now:
                del self.values[key], self.deadlines[key]
            else:
                heapq.heappush(heap, (deadline, key))

    def put(self, key: str, value: str | None, deadline: float | None) -> None:
        """Apply one change: a value (None deletes the key) and its deadline (None: it never expires)."""
        if value is None:
            del self.values[key]
            self.deadlines.pop(key, None)
            return
        self.values[key] = value
        previous = self.deadlines.pop(key, None)
        if deadline is not None:
            self.deadlines[key] = deadline
            if previous is None or deadline < previous:
                heapq.heappush(self._expiries, (deadline, key))

    def record(self, key: str, value: str | None, deadline: float | None) -> list[Any]:
        """The journal record of a change; deadlines are written as wall-clock seconds, so they keep
        their meaning across a restart."""
        if value is None:
            return ["del", key]
        return ["set", key, value, None if deadline is None else deadline + self.offset]

    def replay(self, fields: list[Any]) -> bool:
        """Apply one journal record; False when `fields` is not a key's record. Call `reindex` after."""
        match fields:
            case ["del", str(key)]:
                self.values.pop(key, None)
                self.deadlines.pop(key, None)
            case ["set", str(key), str(value), None]:
                self.values[key] = value
                self.deadlines.pop(key, None)
            case ["set", str(key), str(value), int() | float() as wall] if not isinstance(wall, bool):
                self.values[key] = value
                self.deadlines[key] = wall - self.offset
            case _:
                return False
        return True

    def reindex(self) -> None:
        """Rebuild the expiry heap after a replay; keys already expired go at the first `expire`."""
        self._expiries = [(deadline, key) for key, deadline in self.deadlines.items()]
        heapq.heapify(self._expiries)

    def records(self, now: float) -> Iterator[list[Any]]:
        """One record per key still alive at `now`: what a compacted journal holds."""
        for key, value in self.values.items():
            deadline = self.deadlines.get(key)
            if deadline is None or deadline > now:
                yield self.record(key, value, deadline)
