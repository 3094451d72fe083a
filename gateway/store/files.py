"""File helpers shared by the journals on disk (the embedded store's and the webhook outbox's): an
exclusive lock on a folder, held for an owner's lifetime, and a best-effort fsync of a folder after a
rename. Raises StoreError with the owner's wording; knows nothing of what the files hold.
"""

from __future__ import annotations

import os
import sys
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
