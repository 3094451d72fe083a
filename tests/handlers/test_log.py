"""The log handler: Tyk's `<prefix>:<Type>` line, with the key redacted unless key logging is on."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from gateway.errors import ConfigError
from gateway.events.catalog import AuthFailureMeta, Event, EventMessage
from gateway.handlers.base import HandlerDeps, HandlerScope
from gateway.handlers.log import LogHandler
from gateway.store.memory import MemoryStore


async def run(tmp_path: Path, key_logging: bool, caplog: pytest.LogCaptureFixture) -> str:
    store = MemoryStore(str(tmp_path / "data"))
    async with httpx.AsyncClient() as http:
        deps = HandlerDeps(
            store, http, str(tmp_path), str(tmp_path), str(tmp_path), enable_key_logging=key_logging
        )
        handler = LogHandler.from_meta({"prefix": "AuthFailureEvent"}, HandlerScope("api1"), deps)
        meta = AuthFailureMeta("Auth Failure", path="/p", origin="1.2.3.4", key="secret-key-1234")
        with caplog.at_level(logging.WARNING, logger="gateway.handlers.log"):
            await handler.handle(EventMessage(Event.AuthFailure, meta, "api1"))
    await store.close()
    return caplog.records[-1].getMessage()


async def test_line_starts_like_tyks_and_hides_the_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = await run(tmp_path, False, caplog)
    assert line.startswith("AuthFailureEvent:AuthFailure ")
    assert "secret-key-1234" not in line and "****1234" in line and "path=/p" in line


async def test_key_logging_shows_the_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert "key=secret-key-1234" in await run(tmp_path, True, caplog)


def test_prefix_must_be_a_string() -> None:
    with pytest.raises(ConfigError, match='"prefix"'):
        LogHandler.from_meta({"prefix": 3}, HandlerScope(where="x"), None)  # type: ignore[arg-type]
