"""The README stays true: its pytest example runs as written, and its room map names every room."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gateway.events.catalog import Event

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


async def test_the_in_your_own_tests_example_runs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", section("In your own tests"), re.S)
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    (name,) = [n for n in namespace if n.startswith("test_")]
    await namespace[name](tmp_path)


def test_room_map_names_every_module_and_package() -> None:
    room_map = section("Room map")
    package = ROOT / "gateway"
    rooms = {p.name for p in package.iterdir() if p.suffix == ".py" and p.name != "__init__.py"}
    rooms |= {p.name + "/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(r for r in rooms if r not in room_map)
    assert not missing, f"README room map lacks {missing}"


def test_event_table_names_real_events() -> None:
    named = set(re.findall(r"`([A-Z][A-Za-z0-9]+)`", section("Events")))
    known = {e.value for e in Event}
    assert {"AuthFailure", "KeyExpired", "RatelimitExceeded", "TokenCreated"} <= named
    assert not {
        n
        for n in named
        if n not in known
        and not n.startswith(("Message", "Path", "Origin", "Key", "Org", "OAuth2", "OriginatingRequest"))
    }
