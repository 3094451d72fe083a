"""Journals that notice loss (gateway/store/journal.py), on the embedded store's real files: a journal cut
at a line boundary or mid-line, emptied, deleted, cut at its head or in its middle, or without its
checkpoint refuses to open unless loss is accepted; an earlier version's journal is read once and
rewritten; a crash mid-compaction is no loss; lines written after the last checkpoint by a process that
was then killed are the documented blind spot."""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.config import model as config_mod
from gateway.errors import StoreError
from gateway.store import journal, memory
from gateway.store.memory import MemoryStore
from gateway.store.registry import open_store

ROOT = Path(__file__).resolve().parents[2]
KEYS = [f"k{n}" for n in range(10)]


async def filled(folder: Path) -> Path:
    """A store of ten keys, closed cleanly; its journal's path."""
    store = MemoryStore(folder)
    for key in KEYS:
        await store.set(key, "v")
    await store.close()
    return folder / memory.JOURNAL


def cut(file: Path, keep: int) -> None:
    """Keep the first `keep` lines of `file` (at a line boundary)."""
    lines = file.read_bytes().splitlines(keepends=True)
    file.write_bytes(b"".join(lines[:keep]))


async def refused(folder: Path, match: str) -> None:
    with pytest.raises(StoreError, match=match) as caught:
        MemoryStore(folder)
    assert "--accept-journal-loss" in str(caught.value) and "storage.accept_journal_loss" in str(caught.value)


async def test_a_journal_cut_at_a_line_boundary_refuses_to_open(tmp_path: Path) -> None:
    file = await filled(tmp_path)
    cut(file, 5)
    await refused(tmp_path, r"store\.aof: records lost: it ends at 5, but its checkpoint says 10")


async def test_a_journal_cut_mid_line_is_a_loss_not_a_torn_write(tmp_path: Path) -> None:
    file = await filled(tmp_path)
    file.write_bytes(file.read_bytes()[:-7])  # the last line torn: after a clean close, that is a cut
    await refused(tmp_path, "its last 1 records are missing")


async def test_an_emptied_or_deleted_journal_refuses_to_open(tmp_path: Path) -> None:
    file = await filled(tmp_path)
    file.write_bytes(b"")
    await refused(tmp_path, "it is empty or missing, but its checkpoint says it holds 10 records")
    file.unlink()
    await refused(tmp_path, "it is empty or missing")


async def test_lines_gone_from_the_head_or_the_middle_refuse_to_open(tmp_path: Path) -> None:
    file = await filled(tmp_path)
    lines = file.read_bytes().splitlines(keepends=True)
    file.write_bytes(b"".join(lines[3:]))
    await refused(tmp_path, r"its first 3 records are missing \(it starts at 4, not 1\)")
    file.write_bytes(b"".join(lines[:4] + lines[6:]))
    await refused(tmp_path, "line 5 is number 7 where 5 belongs: lines are missing before it")


async def test_a_missing_or_unreadable_checkpoint_refuses_to_open(tmp_path: Path) -> None:
    await filled(tmp_path)
    checkpoint = tmp_path / "store.checkpoint"
    checkpoint.write_text("{garbage")
    await refused(tmp_path, "its checkpoint store.checkpoint is unreadable")
    checkpoint.unlink()
    await refused(tmp_path, "its checkpoint store.checkpoint is missing")


async def test_an_accepted_loss_is_logged_and_the_journal_is_whole_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = await filled(tmp_path)
    cut(file, 5)
    with caplog.at_level(logging.ERROR, logger="gateway.store"):
        store = MemoryStore(tmp_path, accept_loss=True)
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and "its last 5 records are missing" in record.getMessage()
    assert await store.keys("") == KEYS[:5]
    await store.set("after", "v")
    await store.close()
    store = MemoryStore(tmp_path)  # rewritten and checkpointed: no flag needed again
    assert await store.keys("") == sorted([*KEYS[:5], "after"])
    await store.close()


async def test_an_earlier_versions_journal_is_read_once_and_rewritten_with_numbers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / memory.JOURNAL).write_text(
        '["set", "a", "1", null]\n["set", "b", "2", 4102444800.0]\n["del", "a"]\n["set", "c", "3", null]\n'
    )
    with caplog.at_level(logging.WARNING, logger="gateway.store"):
        store = MemoryStore(tmp_path)
    assert "written by an earlier version, without line numbers" in caplog.text
    assert await store.keys("") == ["b", "c"]
    await store.close()
    lines = [json.loads(line) for line in (tmp_path / memory.JOURNAL).read_text().splitlines()]
    assert [line[1:3] for line in lines] == [["set", "b"], ["set", "c"]]
    assert all(type(line[0]) is int for line in lines)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.store"):
        store = MemoryStore(tmp_path)
    assert caplog.text == "" and await store.keys("") == ["b", "c"]
    await store.close()


async def test_a_crash_between_the_checkpoint_and_the_rename_of_a_compaction_is_no_loss(
    tmp_path: Path,
) -> None:
    await filled(tmp_path)
    # The compaction wrote its file (numbers 11-20) and the checkpoint naming both states, then died.
    checkpoint = tmp_path / "store.checkpoint"
    checkpoint.write_text(json.dumps({"first": 11, "last": 20, "before": [1, 10]}))
    store = MemoryStore(tmp_path)
    assert await store.keys("") == KEYS
    await store.close()
    assert json.loads(checkpoint.read_text())["before"] is None


def killed_after_writing(folder: Path, keys: list[str]) -> None:
    """Open the store in a child process, set `keys`, and SIGKILL it: no close, no checkpoint."""
    script = (
        "import asyncio, os, signal, sys\n"
        "from gateway.store.memory import MemoryStore\n"
        "async def main():\n"
        "    store = MemoryStore(sys.argv[1])\n"
        "    for key in sys.argv[2:]:\n"
        "        await store.set(key, 'v')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(folder), *keys], cwd=ROOT, timeout=60)
    assert done.returncode == -9


async def test_after_a_kill_only_lines_since_the_last_checkpoint_can_go_unnoticed(tmp_path: Path) -> None:
    file = await filled(tmp_path)  # checkpointed at the clean close: ten lines
    killed_after_writing(tmp_path, ["x1", "x2", "x3"])  # opened (compacted: checkpoint 11-20), then 3 more
    assert len(file.read_bytes().splitlines()) == 13
    cut(file, 11)  # two of the three written after the checkpoint: indistinguishable from the kill itself
    store = MemoryStore(tmp_path)
    assert await store.keys("") == sorted([*KEYS, "x1"])
    await store.close()
    killed_after_writing(tmp_path, ["y1"])
    cut(file, 10)  # one line short of that run's start checkpoint (11 lines): seen
    await refused(tmp_path, "its last 1 records are missing")


async def test_the_tyk_conf_key_accepts_the_loss(tmp_path: Path) -> None:
    file = await filled(tmp_path / "data")
    cut(file, 0)
    raw = {"storage": {"type": "embedded", "path": "data", "accept_journal_loss": True}}
    cfg = config_mod.from_dict(raw, where="tyk.conf", base_dir=tmp_path, environ={})
    store = open_store(cfg.storage)
    assert await store.keys("") == []
    await store.close()


async def test_writes_a_full_disk_refuses_leave_no_gap_and_no_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A refused write (ENOSPC, after part of it reached the file) is cut back off and spends no line
    number: once the disk has room the journal goes on, and the next start sees no loss."""
    store = MemoryStore(tmp_path)
    await store.set("a", "1")
    calls = 0

    def half_then_full(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return os.write(fd, bytes(data[: len(data) // 2]))  # a torn half line reaches the file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "_write", half_then_full)
    with pytest.raises(StoreError, match="No space left"):
        await store.set("b", "2")
    monkeypatch.undo()
    await store.set("c", "3")
    await store.close()
    reopened = MemoryStore(tmp_path)  # "records lost" if a number had been spent
    try:
        assert [await reopened.get(k) for k in "abc"] == ["1", None, "3"]
    finally:
        await reopened.close()
    assert not [r for r in caplog.records if "torn" in r.getMessage()]
