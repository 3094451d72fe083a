"""The README's "In your own tests" example runs as written, in this process.

tests/install runs the same example as a user would paste it, in a fresh virtual environment; the rest of
the README and docs/ is checked by tests/test_docs.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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


def test_the_example_says_how_to_configure_pytest_asyncio() -> None:
    (settings,) = re.findall(r"```ini\n(.*?)```", section("In your own tests"), re.S)
    assert "asyncio_mode = auto" in settings
