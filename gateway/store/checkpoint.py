"""A journal's checkpoint (`<name>.checkpoint`): the line numbers its journal must hold, and the checks of
a journal's numbers against it (numbers that do not follow on, a file that lacks what it should hold).

It reads and writes only the checkpoint file and says what is missing, in words; whether a loss stops
the start is the journal's to decide (gateway/store/journal.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

from gateway.errors import StoreError
from gateway.store.files import rewrite

# A checkpoint's "before" while an earlier version's journal (no numbers) is being rewritten.
UNNUMBERED = "unnumbered"


class Checkpoint(NamedTuple):
    states: list[tuple[int, int]]  # (first, last): the journal starts at `first` and reaches `last`
    unnumbered: bool  # a migration was being installed: the file may still be the earlier version's


def write_checkpoint(path: Path, first: int, last: int, before: object, owner: str) -> None:
    """Record that the journal holds `first`..`last` (and, while a rewrite is installed, `before`)."""
    text = json.dumps({"first": first, "last": last, "before": before}) + "\n"
    rewrite(path, [text], owner)


def read_checkpoint(path: Path, owner: str) -> tuple[Checkpoint | None, str | None]:
    """The checkpoint, or None when there is none; with the problem when it cannot be understood."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        raise StoreError(f"{owner}: cannot read {path}: {exc}") from exc
    except ValueError:
        data = None
    match data:
        case {"first": int(first), "last": int(last), "before": None}:
            return Checkpoint([(first, last)], False), None
        case {"first": int(first), "last": int(last), "before": [int(first0), int(last0)]}:
            return Checkpoint([(first, last), (first0, last0)], False), None
        case {"first": int(first), "last": int(last), "before": "unnumbered"}:
            return Checkpoint([(first, last)], True), None
    return None, f"its checkpoint {path.name} is unreadable"


def missing(checkpoint: Checkpoint | None, name: str, first: int | None, last: int | None) -> str | None:
    """What a journal running from `first` to `last` lacks by its checkpoint's (file `name`) account, or
    None when it holds a state named there."""
    if checkpoint is None:  # only reached with numbered lines: the checkpoint was written first
        return f"its checkpoint {name} is missing, so a cut cannot be ruled out"
    for start, end in checkpoint.states:
        if (first is None and end < start) or (first == start and last is not None and last >= end):
            return None
    start, end = checkpoint.states[0]
    if first is None or last is None:
        return f"it is empty or missing, but its checkpoint says it holds {end - start + 1} records"
    if first > start:
        return f"its first {first - start} records are missing (it starts at {first}, not {start})"
    if first < start:
        return f"it starts at {first}, before its checkpoint's {start}: an older copy of the file?"
    return f"it ends at {last}, but its checkpoint says {end}: its last {end - last} records are missing"


def gap(numbered: list[tuple[int, int]]) -> str | None:
    """Lines (index, number) whose numbers do not follow on: removed from the middle, or moved."""
    if not numbered:
        return None
    base = numbered[0][1] - numbered[0][0]
    for index, number in numbered:
        if number != base + index:
            return f"line {index + 1} is number {number} where {base + index} belongs: " + (
                "lines are missing before it" if number > base + index else "lines are out of order"
            )
    return None
