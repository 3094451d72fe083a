"""Structured logs: the JSON formatter (tyk.conf `log_format: "json"`), the text formatter's fields,
tyk.conf refusing any other format, and the X-Request-ID a request is given."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sys

import pytest

from gateway.config import model as config_mod
from gateway.config.model import EventsConfig
from gateway.context import REQUEST_ID_MAX, request_id
from gateway.errors import ConfigError
from gateway.events.bus import EventBus
from gateway.events.catalog import Event, EventMessage, RatelimitExceededMeta, custom_meta
from gateway.log import JsonFormatter, TextFormatter


def record(msg: str, *args: object, exc: bool = False, **extra: object) -> logging.LogRecord:
    info = sys.exc_info() if exc else None
    rec = logging.LogRecord("gateway.proxy", logging.WARNING, __file__, 1, msg, args, info)
    for name, value in extra.items():
        setattr(rec, name, value)
    return rec


def test_a_json_line_has_time_level_logger_message_and_the_fields() -> None:
    rec = record("API %r: upstream %s failed", "x", "h:80", api_id="a1", target="h:80", request_id="r-1")
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    out = json.loads(line)
    assert out.pop("time").endswith("+00:00")
    assert out == {
        "level": "warning",
        "logger": "gateway.proxy",
        "message": "API 'x': upstream h:80 failed",
        "api_id": "a1",
        "target": "h:80",
        "request_id": "r-1",
    }


def test_a_field_never_replaces_the_line_s_own_keys_and_odd_values_are_strings() -> None:
    out = json.loads(JsonFormatter().format(record("m", level="mine", handler=object, count=3)))
    assert out["level"] == "warning" and out["count"] == 3 and out["handler"] == str(object)


def test_non_ascii_is_kept_as_text() -> None:
    line = JsonFormatter().format(record("clé %s", "ünïcode ✓"))
    assert "clé ünïcode ✓" in line
    assert json.loads(line)["message"] == "clé ünïcode ✓"


def test_an_exception_is_one_field_of_the_one_line() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        rec = record("failed", exc=True)
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "failed"
    assert out["exception"].startswith("Traceback") and "ValueError: bad\nthing" in out["exception"]


def test_uvicorn_s_colour_copy_of_its_message_is_not_a_field() -> None:
    rec = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "Started", (), None)
    rec.color_message = "\x1b[1mStarted\x1b[0m"
    assert set(json.loads(JsonFormatter().format(rec))) == {"time", "level", "logger", "message"}


def test_the_text_line_shows_the_fields_after_the_message() -> None:
    line = TextFormatter().format(record("upstream %s failed", "h:80", api_id="a1", request_id="r-1"))
    assert line.endswith("WARNING gateway.proxy: upstream h:80 failed api_id=a1 request_id=r-1")


@pytest.mark.parametrize("value", ["", "text", "json"])
def test_log_format_accepts_text_and_json(value: str) -> None:
    assert config_mod.from_dict({"log_format": value}).log_format == value


@pytest.mark.parametrize("value", ["JSON", "logfmt", "xml"])
def test_any_other_log_format_is_refused_naming_the_key_and_value(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_mod.from_dict({"log_format": value})
    assert str(caught.value) == (
        f'tyk.conf: key "log_format": expected one of "", "text", "json", got "{value}"'
    )


def test_a_client_s_safe_request_id_is_kept() -> None:
    uuid = b"0f8fad5b-d9cb-469f-a165-70867728950e"
    assert request_id([(b"host", b"h"), (b"x-request-id", uuid)]) == (uuid.decode(), 1)
    longest = b"a" * REQUEST_ID_MAX
    assert request_id([(b"x-request-id", longest)]) == (longest.decode(), 1)


@pytest.mark.parametrize(
    "value", [b"", b"a" * (REQUEST_ID_MAX + 1), b"has space", b"new\nline", b'quote"', b"caf\xc3\xa9", b"<x>"]
)
def test_an_unsafe_or_long_request_id_is_replaced(value: bytes) -> None:
    made, source = request_id([(b"x-request-id", value)])
    assert source == -1 and made.encode() != value


def test_ids_made_are_distinct_hex() -> None:
    made = {request_id([(b"host", b"h")]) for _ in range(1000)}
    assert len(made) == 1000 and {source for _, source in made} == {0}
    prefix, _, count = next(iter(made))[0].partition("-")
    assert len(prefix) == 16 and int(prefix, 16) >= 0 and int(count, 16) > 0


def test_the_meta_shows_the_request_id_only_when_it_has_one() -> None:
    plain = RatelimitExceededMeta("m", path="/p")
    assert "RequestID" not in plain.go_fields() and "RequestID" not in plain.json_fields()
    meta = dataclasses.replace(plain, request_id="r-9")
    assert meta.go_fields()["RequestID"] == "r-9" and meta.json_fields()["RequestID"] == "r-9"
    custom = dataclasses.replace(custom_meta({"Message": "x", "Order": 1}), request_id="r-9")
    assert custom.go_fields() == {"Message": "x", "OriginatingRequest": "", "Order": 1, "RequestID": "r-9"}


class Failing:
    kind = "eh_web_hook_handler"
    name = "hook-1"

    async def handle(self, msg: EventMessage) -> None:
        raise RuntimeError("down")


async def test_a_failing_handler_s_line_names_the_api_event_handler_and_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus(EventsConfig(workers=1))
    bus.set_routes({("a", Event.RatelimitExceeded): [Failing()]})
    await bus.start()
    meta = RatelimitExceededMeta("m", request_id="r-5")
    bus.fire(EventMessage(Event.RatelimitExceeded, meta, "a"))
    await asyncio.wait_for(bus.idle(), 5)
    await bus.stop()
    (line,) = [r for r in caplog.records if r.name == "gateway.events"]
    out = json.loads(JsonFormatter().format(line))
    assert {k: out[k] for k in ("api_id", "event", "handler", "request_id")} == {
        "api_id": "a",
        "event": "RatelimitExceeded",
        "handler": "hook-1",
        "request_id": "r-5",
    }
