"""Damaged files on the embedded store, at random and repeatably (seeded): bytes flipped, a cut at any
byte, a line dropped, doubled or moved, garbage inserted, in the keys journal and in the outbox.

Each damaged file either refuses to open with a StoreError naming it, or opens with every record whose
line is untouched intact: never another exception, never an untouched record changed or lost.
"""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.delivery.outbox_file import JOURNAL as OUTBOX
from gateway.delivery.outbox_file import FileOutbox
from gateway.errors import StoreError
from gateway.store.memory import JOURNAL as STORE
from gateway.store.memory import MemoryStore
from tests.delivery.conftest import delivery
from tests.delivery.test_outbox_file import CODEC

CASES = 60  # damaged copies per file, from one seed each
Damage = Callable[[random.Random, list[bytes]], list[bytes]]


def flip(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    data = bytearray(b"".join(lines))
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data).splitlines(keepends=True)


def cut(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    return b"".join(lines)[: rng.randrange(len(b"".join(lines)))].splitlines(keepends=True)


def drop(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    return [line for n, line in enumerate(lines) if n != rng.randrange(len(lines))]


def double(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    n = rng.randrange(len(lines))
    return [*lines[: n + 1], lines[n], *lines[n + 1 :]]


def move(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    moved = list(lines)
    a, b = rng.sample(range(len(moved)), 2)
    moved[a], moved[b] = moved[b], moved[a]
    return moved


def garbage(rng: random.Random, lines: list[bytes]) -> list[bytes]:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))).replace(b"\n", b"") + b"\n"
    n = rng.randrange(len(lines) + 1)
    return [*lines[:n], junk, *lines[n:]]


DAMAGES: list[Damage] = [flip, cut, drop, double, move, garbage]


def damaged_copies(original: Path, name: str, into: Path) -> list[tuple[Path, set[bytes]]]:
    """CASES copies of `original`'s folder, each with file `name` damaged; with the lines left intact."""
    lines = (original / name).read_bytes().splitlines(keepends=True)
    copies = []
    for seed in range(CASES):
        rng = random.Random(seed)
        folder = into / f"case{seed}"
        shutil.copytree(original, folder, ignore=shutil.ignore_patterns("*.lock"))
        damaged = rng.choice(DAMAGES)(rng, lines)
        (folder / name).write_bytes(b"".join(damaged))
        copies.append((folder, set(lines) & set(damaged)))
    return copies


async def test_a_damaged_keys_journal_is_refused_by_name_or_keeps_every_intact_record(tmp_path: Path) -> None:
    original = tmp_path / "original"
    store = MemoryStore(original)
    for n in range(30):
        await store.set(f"key{n}", f"value{n}")
    await store.close()
    outcomes: Counter[str] = Counter()
    for folder, intact in damaged_copies(original, STORE, tmp_path):
        try:
            opened = MemoryStore(folder)
        except StoreError as exc:
            assert str(folder / STORE) in str(exc)
            outcomes["refused"] += 1
            continue
        for line in intact:
            _number, _op, key, value, _expiry = json.loads(line)
            assert await opened.get(key) == value, f"{folder}: {key} changed"
        await opened.close()
        outcomes["opened"] += 1
    assert outcomes["refused"] > 0 and outcomes["opened"] > 0, outcomes  # both ways were exercised


async def test_a_damaged_outbox_is_refused_by_name_or_keeps_every_intact_delivery(tmp_path: Path) -> None:
    original = tmp_path / "original"
    outbox = FileOutbox(original, CODEC)
    sent = {d.id: d for d in (delivery(n) for n in range(20))}
    for one in sent.values():
        await outbox.add(one)
    await outbox.close()
    outcomes: Counter[str] = Counter()
    for folder, intact in damaged_copies(original, OUTBOX, tmp_path):
        try:
            opened = FileOutbox(folder, CODEC)
        except StoreError as exc:
            assert str(folder / OUTBOX) in str(exc)
            outcomes["refused"] += 1
            continue
        kept = {d.id: d for d in await opened.take(100, 0)}
        for line in intact:
            record = CODEC.load(json.loads(line)[2])
            assert kept.get(record.id) == sent[record.id], f"{folder}: delivery {record.id} lost or changed"
        await opened.close()
        outcomes["opened"] += 1
    assert outcomes["refused"] > 0 and outcomes["opened"] > 0, outcomes


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda d: d.__name__)
def test_each_damage_changes_the_file(damage: Damage) -> None:
    lines = [b'[1,"a"]\n', b'[2,"b"]\n', b'[3,"c"]\n']
    assert any(damage(random.Random(seed), lines) != lines for seed in range(5))
