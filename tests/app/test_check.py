"""`python -m gateway check`: a real process over real folders; it loads what the gateway would load,
prints one line per API, exits 0/1/2, and never binds a port or writes the store's folder."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def check(
    conf: Path, *, program: tuple[str, ...] = (sys.executable, "-m", "gateway")
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*program, "check", "--conf", str(conf)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def api(api_id: str, listen_path: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": api_id,
        "api_id": api_id,
        "org_id": "org",
        "use_keyless": True,
        "proxy": {"listen_path": listen_path, "target_url": "http://127.0.0.1:9/", "strip_listen_path": True},
        "version_data": {"not_versioned": True, "versions": {"Default": {"name": "Default"}}},
        **extra,
    }


def folder(tmp_path: Path, apis: dict[str, Any], **conf: Any) -> Path:
    """tmp_path/tyk.conf (embedded store in tmp_path/data) and apps/<name> for each of `apis`."""
    (tmp_path / "apps").mkdir()
    for name, body in apis.items():
        text = body if isinstance(body, str) else json.dumps(body)
        (tmp_path / "apps" / name).write_text(text)
    path = tmp_path / "tyk.conf"
    settings = {
        "listen_address": "127.0.0.1",
        "app_path": "apps",
        "storage": {"type": "embedded", "path": "data"},
    }
    path.write_text(json.dumps({**settings, **conf}))
    return path


def test_a_good_folder_exits_0_with_one_line_per_api(tmp_path: Path) -> None:
    conf = folder(tmp_path, {"a.json": api("a", "/a/"), "b.json": api("b", "/b/")})
    done = check(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    apps = tmp_path / "apps"
    assert done.stdout.splitlines() == [
        f"loaded  a  /a/  {apps / 'a.json'}",
        f"loaded  b  /b/  {apps / 'b.json'}",
    ]
    assert done.stderr == ""


def test_a_broken_api_exits_1_and_its_line_names_the_file_and_reason(tmp_path: Path) -> None:
    broken = api("b", "/b/")
    del broken["proxy"]["listen_path"]
    conf = folder(tmp_path, {"a.json": api("a", "/a/"), "b.json": broken, "c.json": "{nope"})
    done = check(conf)
    assert done.returncode == 1
    apps = tmp_path / "apps"
    assert done.stdout.splitlines() == [
        f"loaded  a  /a/  {apps / 'a.json'}",
        f'skipped {apps / "b.json"}: $.proxy.listen_path: required: a path starting with "/", got null',
        f"skipped {apps / 'c.json'}: not valid JSON: Expecting property name enclosed in double quotes "
        "at line 1 column 2",
    ]


def test_a_hook_or_handler_the_gateway_would_reject_fails_the_check(tmp_path: Path) -> None:
    hooked = api(
        "h", "/h/", custom_middleware={"driver": "python", "pre": [{"name": "f", "path": "none.py"}]}
    )
    bad_webhook = {"handler_name": "eh_web_hook_handler", "handler_meta": {"target_path": "ftp://x"}}
    handled = api("w", "/w/", event_handlers={"events": {"QuotaExceeded": [bad_webhook]}})
    conf = folder(tmp_path, {"h.json": hooked, "w.json": handled})
    done = check(conf)
    assert done.returncode == 1
    apps = tmp_path / "apps"
    assert done.stdout.splitlines() == [
        f"skipped {apps / 'h.json'}: \"path\": file not found: 'none.py' "
        f"(looked in {tmp_path / 'middleware'})",
        f"loaded  w  /w/  {apps / 'w.json'}",
        f'error   {apps / "w.json"} $.event_handlers.events.QuotaExceeded[0]: "target_path": expected an '
        "absolute http(s) URL, got 'ftp://x' (handler skipped)",
    ]


def test_what_lives_in_the_store_is_noted_not_failed(tmp_path: Path) -> None:
    stored = {"handler_name": "eh_web_hook_handler", "handler_meta": {"id": "kept-in-store"}}
    conf = folder(
        tmp_path, {"s.json": api("s", "/s/", event_handlers={"events": {"QuotaExceeded": [stored]}})}
    )
    done = check(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    file = tmp_path / "apps" / "s.json"
    assert done.stdout.splitlines() == [
        f"loaded  s  /s/  {file}",
        f"note    {file} $.event_handlers.events.QuotaExceeded[0]: webhook 'kept-in-store' is not in "
        "tyk.conf, so a stored one: not checked (check opens no store)",
    ]


def test_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    conf = folder(tmp_path, {"a.json": api("a", "/a/")}, listen_port=70000)
    done = check(conf)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f'error: {conf}: key "listen_port": expected a port 1-65535, got 70000'
    ]


def test_unread_keys_are_warned_on_stderr_and_do_not_fail(tmp_path: Path) -> None:
    conf = folder(tmp_path, {"a.json": api("a", "/a/")}, listen_prot=8080, enable_analytics=True)
    done = check(conf)
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        f'warning: {conf}: unknown key "listen_prot" (did you mean "listen_port"?)',
        f'warning: {conf}: key "enable_analytics" is a Tyk setting this gateway ignores',
    ]


def test_check_binds_no_port_and_writes_no_store(tmp_path: Path) -> None:
    # The configured port is held here: a check that bound it would fail with "address in use".
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        conf = folder(tmp_path, {"a.json": api("a", "/a/")}, listen_port=port, events={"outbox": True})
        done = check(conf)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["apps", "tyk.conf"]


def test_the_console_script_runs_check(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "tyk-mini-gateway"
    assert script.exists(), "the package is installed with its console script (tests/setup.sh)"
    conf = folder(tmp_path, {"a.json": api("a", "/a/")})
    done = check(conf, program=(str(script),))
    assert (done.returncode, done.stdout.split()[:2]) == (0, ["loaded", "a"])


def test_a_missing_app_path_is_an_error(tmp_path: Path) -> None:
    conf = folder(tmp_path, {})
    (tmp_path / "apps").rmdir()
    done = check(conf)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [f"error   {tmp_path / 'apps'}: app_path: not a directory"]


def test_a_template_or_address_the_gateway_must_not_reach_skips_the_api(tmp_path: Path) -> None:
    leaking = {"handler_name": "eh_web_hook_handler", "handler_meta": {"target_path": "http://127.0.0.1:9/"}}
    leaking["handler_meta"]["template_path"] = "/etc/passwd"
    passwd = api("p", "/p/", event_handlers={"events": {"QuotaExceeded": [leaking]}})
    metadata = api("m", "/m/", uptime_tests={"check_list": [{"url": "http://169.254.169.254/"}]})
    conf = folder(tmp_path, {"m.json": metadata, "p.json": passwd})
    done = check(conf)
    assert done.returncode == 1
    apps = tmp_path / "apps"
    assert done.stdout.splitlines() == [
        f"skipped {apps / 'm.json'}: $.uptime_tests.check_list[0].url: http://169.254.169.254/ is refused by "
        "the outbound policy: 169.254.169.254 is in outbound.deny (169.254.0.0/16)",
        f"skipped {apps / 'p.json'}: $.event_handlers.events.QuotaExceeded[0]: "
        f"\"template_path\": '/etc/passwd' is outside template_path ({tmp_path / 'templates'}) and the "
        "packaged templates",
    ]
