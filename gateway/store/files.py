"""File helpers shared by the journals on disk (the embedded store's and the webhook outbox's): an
exclusive lock on a folder, held for an owner's lifetime; reading a journal's lines, opening it for
appends (owner-only) and rewriting it atomically (in one step, or in two for a caller that must do
something between the write and the rename); a best-effort fsync of a folder after a rename.
Raises StoreError with the owner's wording; knows nothing of what the lines hold.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from gateway.errors import StoreError

if sys.platform != "win32":
    import fcntl


def lock_folder(folder: Path, lock_name: str, owner: str, busy: str) -> IO[bytes]:
    """Create `folder` and hold an exclusive lock on `folder/lock_name`; StoreError(`busy`) when another
    opener holds it. `owner` names the user of the folder in other errors."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / lock_name, "a+b")  # noqa: SIM115 - held open until the owner closes
    except OSError as exc:
        raise StoreError(f"{owner}: cannot use folder {folder}: {exc}") from exc
    if sys.platform != "win32":
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise StoreError(busy) from exc
    return handle


def open_locked(folder: Path, lock_name: str, owner: str, busy: str, *load: Callable[[], None]) -> IO[bytes]:
    """`lock_folder`, then run each `load` step (a journal's replay, its compaction); a step that fails
    releases the lock, so the folder can be opened again once the cause is fixed."""
    handle = lock_folder(folder, lock_name, owner, busy)
    try:
        for step in load:
            step()
    except BaseException:
        handle.close()
        raise
    return handle


def fsync_dir(folder: Path) -> None:
    """Make a rename itself durable where the platform allows it (best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_lines(file: Path, owner: str) -> list[bytes]:
    """A journal's lines, the last one possibly torn by a crash; none when the file does not exist."""
    try:
        lines = file.read_bytes().split(b"\n")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise StoreError(f"{owner}: cannot read {file}: {exc}") from exc
    if lines[-1] == b"":
        lines.pop()
    return lines


def open_journal(file: Path, owner: str, *, truncate: bool = False) -> IO[str]:
    """`file` opened for appending text (or emptied first). Owner-only: the journals hold sessions and
    rendered webhook bodies, either of which may carry a raw API key."""
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else os.O_APPEND), 0o600)
        return open(fd, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise StoreError(f"{owner}: cannot open {file}: {exc}") from exc


def write_synced(file: Path, lines: Iterable[str], owner: str) -> Path:
    """`lines` written to a temporary file beside `file` and fsynced; its path, for `install`."""
    temp = file.with_name(file.name + ".tmp")
    try:
        with open_journal(temp, owner, truncate=True) as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise StoreError(f"{owner} {file}: rewrite failed: {exc}") from exc
    return temp


def install(temp: Path, file: Path, owner: str) -> None:
    """Put `temp` in the place of `file` atomically (os.replace), then make the rename durable."""
    try:
        os.replace(temp, file)
    except OSError as exc:
        raise StoreError(f"{owner} {file}: rewrite failed: {exc}") from exc
    fsync_dir(file.parent)


def rewrite(file: Path, lines: Iterable[str], owner: str) -> None:
    """Replace `file` by `lines` atomically: a temporary file beside it, fsync, os.replace, then the
    folder. The caller closes its own handle on `file` first (some platforms cannot replace an open
    file) and opens it again afterwards, whether this raised or not."""
    install(write_synced(file, lines, owner), file, owner)
