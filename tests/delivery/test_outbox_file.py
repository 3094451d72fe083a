"""The embedded store's outbox file: damaged lines skipped (never fatal), compaction on open and
while running, owner-only permissions, one opener per folder, and the non-durable memory outbox."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from gateway.delivery.outbox_file import JOURNAL, FileOutbox
from gateway.delivery.outbox_memory import MemoryOutbox
from gateway.delivery.record import RecordCodec
from gateway.errors import StoreError
from tests.delivery.conftest import SECRET, delivery

CODEC = RecordCodec(SECRET)


def lines(folder: Path) -> list[list[object]]:
    """The file's records, without their line numbers."""
    return [json.loads(line)[1:] for line in (folder / JOURNAL).read_text().splitlines()]


async def test_damaged_lines_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = FileOutbox(tmp_path, CODEC)
    first, second = delivery(1), delivery(2)
    await outbox.add(first)
    await outbox.close()
    journal = tmp_path / JOURNAL
    journal.write_text(
        journal.read_text()
        + '{"not": "a record"}\n[3, "add", {"id": "half"}]\nnot json at all\n'
        + json.dumps([5, "add", CODEC.dump(second)])
        + '\n[6, "add", {"api_id": "torn'  # a crash mid-write
    )
    caplog.set_level(logging.WARNING)
    again = FileOutbox(tmp_path, CODEC)
    assert await again.take(10, 0) == [first, second]
    for number in (2, 3, 4, 6):
        assert f"{tmp_path / JOURNAL}: line {number} skipped" in caplog.text
    assert "line 5" not in caplog.text
    await again.close()


async def test_compacts_on_open_and_when_many_lines_are_finished(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path, CODEC, compact_min_lines=10)
    kept = delivery(100)
    await outbox.add(kept)
    assert await outbox.take(1, 0) == [kept]  # taken, never finished
    for n in range(4):
        await outbox.add(delivery(n))
        await outbox.finish((await outbox.take(1, 0))[0].id)
    assert len(lines(tmp_path)) == 9  # 5 adds and 4 dones: under the threshold
    await outbox.add(delivery(5))
    await outbox.finish((await outbox.take(1, 0))[0].id)
    # The 11th line crossed the threshold: the file is rewritten to the one unfinished delivery.
    assert [(op, record["id"]) for op, record in lines(tmp_path)] == [("add", kept.id)]  # type: ignore[index]
    await outbox.add(delivery(6))
    await outbox.finish((await outbox.take(1, 0))[0].id)
    await outbox.close()
    assert len(lines(tmp_path)) == 3
    reopened = FileOutbox(tmp_path, CODEC)  # opening compacts too
    assert [(op, record["id"]) for op, record in lines(tmp_path)] == [("add", kept.id)]  # type: ignore[index]
    assert await reopened.take(10, 0) == [kept]
    await reopened.close()


async def test_file_is_owner_only_and_one_opener_per_folder(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path, CODEC)
    await outbox.add(delivery())
    assert stat.S_IMODE((tmp_path / JOURNAL).stat().st_mode) == 0o600
    with pytest.raises(StoreError, match="already open"):
        FileOutbox(tmp_path, CODEC)
    await outbox.close()
    with pytest.raises(StoreError, match="closed"):
        await outbox.add(delivery())
    await FileOutbox(tmp_path, CODEC).close()


async def test_memory_outbox_is_not_durable(caplog: pytest.LogCaptureFixture) -> None:
    outbox = MemoryOutbox()
    await outbox.add(delivery(1))
    await outbox.add(delivery(2))
    (taken,) = await outbox.take(1, 0)
    await outbox.finish(taken.id)
    assert await outbox.backlog() == 1
    caplog.set_level(logging.WARNING)
    await outbox.close()
    assert "1 webhook deliveries lost" in caplog.text
    with pytest.raises(StoreError):
        await outbox.add(delivery(3))


async def test_an_emptied_outbox_refuses_to_open_unless_the_loss_is_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    outbox = FileOutbox(tmp_path, CODEC)
    for n in range(49):
        await outbox.add(delivery(n))
    await outbox.close()
    (tmp_path / JOURNAL).write_bytes(b"")
    with pytest.raises(
        StoreError, match=r"outbox\.aof: records lost: it is empty .* holds 49 records"
    ) as caught:
        FileOutbox(tmp_path, CODEC)
    assert "--accept-journal-loss" in str(caught.value)
    caplog.set_level(logging.ERROR)
    accepted = FileOutbox(tmp_path, CODEC, accept_loss=True)
    assert "records lost" in caplog.text and await accepted.backlog() == 0
    await accepted.close()


async def test_an_outbox_cut_short_refuses_to_open(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path, CODEC)
    for n in range(5):
        await outbox.add(delivery(n))
    await outbox.finish((await outbox.take(1, 0))[0].id)
    await outbox.close()
    journal = tmp_path / JOURNAL
    journal.write_bytes(b"".join(journal.read_bytes().splitlines(keepends=True)[:-1]))  # the finish
    with pytest.raises(StoreError, match="its last 1 records are missing"):
        FileOutbox(tmp_path, CODEC)


async def test_an_earlier_versions_outbox_is_read_once_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = delivery(1), delivery(2)
    (tmp_path / JOURNAL).write_text(
        json.dumps(["add", CODEC.dump(first)])
        + "\n"
        + json.dumps(["add", CODEC.dump(second)])
        + "\n"
        + json.dumps(["done", first.id])
        + "\n"
    )
    caplog.set_level(logging.WARNING)
    outbox = FileOutbox(tmp_path, CODEC)
    assert "written by an earlier version" in caplog.text
    assert await outbox.take(10, 0) == [second]
    await outbox.close()
    assert [(op, record["id"]) for op, record in lines(tmp_path)] == [("add", second.id)]  # type: ignore[index]
    assert (tmp_path / "outbox.checkpoint").exists()
