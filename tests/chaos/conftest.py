"""Chaos scenarios (crash, outage, full disk, corruption, HTTP abuse): every test here is marked `chaos`
and bounded in count and time; `-m 'not chaos'` skips them. The store fixture is the end-to-end one."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import store_config

__all__ = ["store_config"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "chaos":
            item.add_marker(pytest.mark.chaos)
