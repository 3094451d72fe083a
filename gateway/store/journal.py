"""A journal on disk that notices loss: numbered JSON lines, and a checkpoint file beside them.

It owns the line format (`[number, field, ...]`), when its checkpoint (store/checkpoint.py) is written:
at start, at each compaction and at a clean close; the check on load, and what a failed write leaves
(nothing: see `append`). It knows nothing of what the fields mean, and must stay cheap to append to: one
counter step per line, no fsync.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from gateway.errors import StoreError
from gateway.log import get_logger
from gateway.store.checkpoint import UNNUMBERED, gap, missing, read_checkpoint, write_checkpoint
from gateway.store.files import install, read_lines, write_synced

log = get_logger("store")

ACCEPT = "start once with --accept-journal-loss (or tyk.conf storage.accept_journal_loss: true)"
# Lines a journal keeps waiting for their flush while the disk refuses them (the embedded store's counter
# steps); past it an append is refused, so memory stays bounded through a long outage.
MAX_UNWRITTEN = 100_000
_write = os.write  # the one system call that writes a journal's lines (tests make it fail)


def _encoder() -> Callable[[list[Any]], str]:
    """Compact JSON, with the C encoder built once: json.dumps builds it again on every call, which is
    half the cost of a line (the store appends one per request on a rate-limited API)."""
    plain = json.JSONEncoder(separators=(",", ":"))
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return plain.encode
    chunks = c_make_encoder(None, plain.default, encode_basestring_ascii, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode = _encoder()


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
        self._fd: int | None = None
        self._first = 1  # the number of the file's first line (of its next one, when it is empty)
        self._last = 0  # the last number written, read, or given to a line waiting in `_unwritten`
        self._unwritten: list[str] = []  # appended, not yet written: numbered up to `_last`
        self._size = 0  # bytes of the file made of whole lines: a failed write is cut back to it
        self._torn = False  # that cut failed: try it again before the next write
        self._unnumbered = False  # the file is an earlier version's until the next rewrite

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def load(self) -> list[tuple[int, list[Any] | None]]:
        """Every line as (line number, its fields, or None when it is damaged), once the numbers are
        checked against the checkpoint. A loss raises StoreError, or is logged as an error when the
        owner accepts loss. An earlier version's journal (no numbers, no checkpoint) is taken as it is."""
        lines = [_decode(raw) for raw in read_lines(self.file, self._owner)]
        self.lines = len(lines)
        numbered = [(index, line[0]) for index, line in enumerate(lines) if line and _numbered(line)]
        checkpoint, problem = read_checkpoint(self.checkpoint, self._owner)
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
        problem = problem or gap(numbered) or missing(checkpoint, self.checkpoint.name, first, last)
        if problem is not None:
            self._lost(problem)
        known = [last or 0, *(end for _, end in checkpoint.states)] if checkpoint else [last or 0]
        self._last = max(known)  # a number is never used twice, even after an accepted loss
        self._first = first if first is not None else self._last + 1
        return [
            (index + 1, line[1:] if line and _numbered(line) else None) for index, line in enumerate(lines)
        ]

    def append(self, fields: list[Any], *, flush: bool = True) -> None:
        """Write one line; flush it to the OS unless the owner flushes later (`flush`). A line whose
        write fails is not in the file and never will be, and its number is not spent: numbers in the
        file always follow on, so a full disk is never mistaken for a cut at the next start."""
        if self._fd is None:
            raise StoreError(f"{self._owner} {self.file} is closed")
        if len(self._unwritten) >= MAX_UNWRITTEN:
            raise StoreError(f"{self._owner} {self.file}: {len(self._unwritten)} lines wait to be written")
        self._unwritten.append(_encode([self._last + 1, *fields]) + "\n")
        self._last += 1
        self.lines += 1
        if flush:
            try:
                self._write_out()
            except StoreError:
                self._unwritten.pop()
                self._last -= 1
                self.lines -= 1
                raise

    def flush(self) -> None:
        """Write the lines waiting for their flush; on failure they keep waiting (StoreError)."""
        if self._fd is not None:
            self._write_out()

    def _write_out(self) -> None:
        """Write every waiting line at once, or none: a partial write is cut back off the file, since
        the rest of a torn line would follow it in the middle of the file."""
        fd = self._fd
        if fd is None or not self._unwritten:
            return
        data = "".join(self._unwritten).encode()
        try:
            if self._torn:
                os.ftruncate(fd, self._size)
                self._torn = False
            view, done = memoryview(data), 0
            while done < len(data):
                done += _write(fd, view[done:])
        except OSError as exc:
            try:
                os.ftruncate(fd, self._size)  # O_APPEND: the next write starts at the cut
            except OSError:
                self._torn = True
            raise StoreError(f"{self._owner} {self.file}: write failed: {exc}") from exc
        self._size += len(data)
        self._unwritten.clear()

    def rewrite(self, records: Iterable[list[Any]]) -> None:
        """Replace the file by `records` (a compaction), numbered on from the last number used: the new
        file is written and fsynced, then the checkpoint naming both states, then the rename."""
        first, count = self._last + 1, 0

        def numbered() -> Iterator[str]:
            nonlocal count
            for count, fields in enumerate(records, 1):  # count: read after the loop
                yield _encode([first + count - 1, *fields]) + "\n"

        # The old file's last line, should a crash leave it in place: lines still waiting are not in it.
        written = self._last - len(self._unwritten)
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                os.close(fd)  # some platforms cannot replace an open file
            temp = write_synced(self.file, numbered(), self._owner)
            before: object = UNNUMBERED if self._unnumbered else [self._first, written]
            write_checkpoint(self.checkpoint, first, first + count - 1, before, self._owner)
            install(temp, self.file, self._owner)
            self._first, self._last, self.lines, self._unnumbered = first, first + count - 1, count, False
            self._unwritten.clear()  # the records are the owner's state, which those lines had changed
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self._owner} {self.file}: rewrite failed: {exc}") from exc
        finally:
            self._open()

    def _open(self) -> None:
        """Open the file for appends, owner-only: it may hold raw API keys."""
        try:
            self._fd = os.open(self.file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._size = os.fstat(self._fd).st_size
        except OSError as exc:
            raise StoreError(f"{self._owner}: cannot open {self.file}: {exc}") from exc

    def close(self) -> None:
        """Flush and fsync every line, then checkpoint them all: after a clean close any cut is seen."""
        fd = self._fd
        if fd is None:
            return
        try:
            self._write_out()
            os.fsync(fd)
        except OSError as exc:
            raise StoreError(f"{self._owner} {self.file}: close failed: {exc}") from exc
        finally:
            self._fd = None
            os.close(fd)
        before = UNNUMBERED if self._unnumbered else None
        write_checkpoint(self.checkpoint, self._first, self._last, before, self._owner)

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
