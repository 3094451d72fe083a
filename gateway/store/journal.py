"""A journal on disk that notices loss: numbered JSON lines, and a checkpoint file beside them.

It owns the line format (`[number, field, ...]`), the checkpoint (`<name>.checkpoint`: the numbers the
journal must hold, rewritten at each compaction and at a clean close) and the check on load. It knows
nothing of what the fields mean, and must stay cheap to append to: one counter step per line, no fsync.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import IO, Any, NamedTuple

from gateway.errors import StoreError
from gateway.log import get_logger
from gateway.store.files import install, open_journal, read_lines, rewrite, write_synced

log = get_logger("store")

ACCEPT = "start once with --accept-journal-loss (or tyk.conf storage.accept_journal_loss: true)"
# A checkpoint's "before" while an earlier version's journal (no numbers) is being rewritten.
UNNUMBERED = "unnumbered"


def _encoder() -> Callable[[list[Any]], str]:
    """Compact JSON, with the C encoder built once: json.dumps builds it again on every call, which is
    half the cost of a line (the store appends one per request on a rate-limited API)."""
    plain = json.JSONEncoder(separators=(",", ":"))
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return plain.encode
    chunks = c_make_encoder(None, plain.default, encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode = _encoder()


class _Checkpoint(NamedTuple):
    states: list[tuple[int, int]]  # (first, last): the journal starts at `first` and reaches `last`
    unnumbered: bool  # a migration was being installed: the file may still be the earlier version's


class Journal:
    """One owner's journal (the owner holds its folder's lock), checked against its checkpoint on load.

    Numbers run on across rewrites and never restart, so the checkpoint can name the file's first number
    and the last one it must reach. While a rewrite is installed the checkpoint also names the state
    before it: a crash between writing the checkpoint and renaming the new file leaves the old file,
    which is still whole. What it cannot see: lines appended since the last checkpoint (written at
    start, at each compaction and at a clean close) that a cut removed after a crash, not a clean stop.
    """

    def __init__(self, file: Path, owner: str, *, accept_loss: bool = False) -> None:
        self.file = file
        self.checkpoint = file.with_suffix(".checkpoint")
        self.lines = 0  # lines in the file now: the owner's compaction rule reads it
        self._owner = owner
        self._accept_loss = accept_loss
        self._out: IO[str] | None = None
        self._first = 1  # the number of the file's first line (of its next one, when it is empty)
        self._last = 0  # the last number written or read
        self._unnumbered = False  # the file is an earlier version's until the next rewrite

    @property
    def is_open(self) -> bool:
        return self._out is not None

    def load(self) -> list[tuple[int, list[Any] | None]]:
        """Every line as (line number, its fields, or None when it is damaged), once the numbers are
        checked against the checkpoint. A loss raises StoreError, or is logged as an error when the
        owner accepts loss. An earlier version's journal (no numbers, no checkpoint) is taken as it is."""
        lines = [_decode(raw) for raw in read_lines(self.file, self._owner)]
        self.lines = len(lines)
        numbered = [(index, line[0]) for index, line in enumerate(lines) if line and _numbered(line)]
        checkpoint, problem = self._read_checkpoint()
        if not numbered and problem is None and (checkpoint is None or checkpoint.unnumbered):
            if any(lines):
                self._unnumbered = True
                log.warning(
                    "%s %s: written by an earlier version, without line numbers: read as it is this once"
                    " and rewritten with them",
                    self._owner,
                    self.file,
                )
            return [(index + 1, line) for index, line in enumerate(lines)]
        first = numbered[0][1] - numbered[0][0] if numbered else None
        last = numbered[-1][1] if numbered else None
        problem = problem or _gap(numbered) or self._against(checkpoint, first, last)
        if problem is not None:
            self._lost(problem)
        known = [last or 0, *(end for _, end in checkpoint.states)] if checkpoint else [last or 0]
        self._last = max(known)  # a number is never used twice, even after an accepted loss
        self._first = first if first is not None else self._last + 1
        return [
            (index + 1, line[1:] if line and _numbered(line) else None) for index, line in enumerate(lines)
        ]

    def append(self, fields: list[Any], *, flush: bool = True) -> None:
        """Write one line; flush it to the OS unless the owner flushes later (`flush`)."""
        out = self._out
        if out is None:
            raise StoreError(f"{self._owner} {self.file} is closed")
        self._last += 1  # spent even when the write fails: a buffered line may still reach the file
        try:
            out.write(_encode([self._last, *fields]) + "\n")
            if flush:
                out.flush()
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self._owner} {self.file}: write failed: {exc}") from exc
        self.lines += 1

    def flush(self) -> None:
        if self._out is not None:
            try:
                self._out.flush()
            except (OSError, ValueError) as exc:
                raise StoreError(f"{self._owner} {self.file}: flush failed: {exc}") from exc

    def rewrite(self, records: Iterable[list[Any]]) -> None:
        """Replace the file by `records` (a compaction), numbered on from the last number used: the new
        file is written and fsynced, then the checkpoint naming both states, then the rename."""
        first, count = self._last + 1, 0

        def numbered() -> Iterator[str]:
            nonlocal count
            for count, fields in enumerate(records, 1):  # count: read after the loop
                yield _encode([first + count - 1, *fields]) + "\n"

        out, self._out = self._out, None
        try:
            if out is not None:
                out.close()  # also writes out lines still waiting for their flush
            temp = write_synced(self.file, numbered(), self._owner)
            before: object = UNNUMBERED if self._unnumbered else [self._first, self._last]
            self._write_checkpoint(first, first + count - 1, before)
            install(temp, self.file, self._owner)
            self._first, self._last, self.lines, self._unnumbered = first, first + count - 1, count, False
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self._owner} {self.file}: rewrite failed: {exc}") from exc
        finally:
            self._out = open_journal(self.file, self._owner)

    def close(self) -> None:
        """Flush and fsync every line, then checkpoint them all: after a clean close any cut is seen."""
        out, self._out = self._out, None
        if out is None:
            return
        try:
            try:
                out.flush()
                os.fsync(out.fileno())
            finally:
                out.close()
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self._owner} {self.file}: close failed: {exc}") from exc
        self._write_checkpoint(self._first, self._last, UNNUMBERED if self._unnumbered else None)

    # -- the checkpoint ----------------------------------------------------------------------------

    def _write_checkpoint(self, first: int, last: int, before: object) -> None:
        text = json.dumps({"first": first, "last": last, "before": before}) + "\n"
        rewrite(self.checkpoint, [text], self._owner)

    def _read_checkpoint(self) -> tuple[_Checkpoint | None, str | None]:
        try:
            data = json.loads(self.checkpoint.read_bytes())
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise StoreError(f"{self._owner}: cannot read {self.checkpoint}: {exc}") from exc
        except ValueError:
            data = None
        match data:
            case {"first": int(first), "last": int(last), "before": None}:
                return _Checkpoint([(first, last)], False), None
            case {"first": int(first), "last": int(last), "before": [int(first0), int(last0)]}:
                return _Checkpoint([(first, last), (first0, last0)], False), None
            case {"first": int(first), "last": int(last), "before": "unnumbered"}:
                return _Checkpoint([(first, last)], True), None
        return None, f"its checkpoint {self.checkpoint.name} is unreadable"

    def _against(self, checkpoint: _Checkpoint | None, first: int | None, last: int | None) -> str | None:
        """What the file lacks by its checkpoint's account, or None when it holds a state named there."""
        if checkpoint is None:  # only reached with numbered lines: the checkpoint was written first
            return f"its checkpoint {self.checkpoint.name} is missing, so a cut cannot be ruled out"
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

    def _lost(self, problem: str) -> None:
        message = f"{self._owner} {self.file}: records lost: {problem}"
        if not self._accept_loss:
            raise StoreError(
                f"{message}. Refusing to start: restore the file, or {ACCEPT} to go on without them"
            )
        log.error("%s; accepted (--accept-journal-loss): going on without them", message)


def _decode(raw: bytes) -> list[Any] | None:
    """A line's JSON array, or None when it is damaged (torn by a crash, edited, not an array)."""
    try:
        fields = json.loads(raw)
    except ValueError:  # also a UnicodeDecodeError from a torn multi-byte character
        return None
    return fields if isinstance(fields, list) and fields else None


def _numbered(line: list[Any]) -> bool:
    return type(line[0]) is int and len(line) > 1


def _gap(numbered: list[tuple[int, int]]) -> str | None:
    """Lines whose numbers do not follow on: removed from the middle, or moved."""
    if not numbered:
        return None
    base = numbered[0][1] - numbered[0][0]
    for index, number in numbered:
        if number != base + index:
            return f"line {index + 1} is number {number} where {base + index} belongs: " + (
                "lines are missing before it" if number > base + index else "lines are out of order"
            )
    return None
