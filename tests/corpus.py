"""Where Tyk's corpus of real definitions and templates lives (data, never copied into the project).

`TYK_CORPUS` overrides; otherwise `../shared/tyk-corpus` beside the checkout, then the workplace path.
Tests that need it skip with this reason only when no copy exists on the machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_CANDIDATES = [
    Path(os.environ["TYK_CORPUS"]) if os.environ.get("TYK_CORPUS") else None,
    Path(__file__).resolve().parents[2] / "shared" / "tyk-corpus",
    Path("/work/shared/tyk-corpus"),
]
CORPUS: Path | None = next((p for p in _CANDIDATES if p is not None and (p / "apps").is_dir()), None)


def corpus() -> Path:
    if CORPUS is None:
        pytest.skip("Tyk corpus not found (set TYK_CORPUS to its folder)")
    return CORPUS
