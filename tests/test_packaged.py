"""The package's own files: every shipped template and example loads, templates are found by Tyk's
rule with the packaged defaults last and never outside template_path and the packaged templates (links
resolved), and `init` writes a starter that checks cleanly, all or nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.apidef.loader import load_dir
from gateway.config import model as config_mod
from gateway.errors import ConfigError, Refused
from gateway.packaged import EXAMPLE_CONF, EXAMPLES, STARTER, TEMPLATES, find_template, template_by_name
from gateway.starter import write_starter
from gateway.templating.template import load_template


@pytest.mark.parametrize("name", sorted(p.name for p in TEMPLATES.iterdir() if p.is_file()))
def test_every_packaged_template_loads(name: str) -> None:
    load_template(TEMPLATES / name, json_escape=name.endswith(".json"))


@pytest.mark.parametrize("folder", [EXAMPLES / "apps", STARTER / "apps"])
def test_every_packaged_api_loads(folder: Path) -> None:
    result = load_dir(str(folder))
    assert result.skipped == () and len(result.specs) >= 2


def test_the_example_conf_loads() -> None:
    cfg = config_mod.load(EXAMPLE_CONF, environ={})
    assert cfg.app_path == str(EXAMPLES / "apps")


def test_no_name_takes_template_path_first_then_the_packaged_default(tmp_path: Path) -> None:
    assert (
        find_template(None, "w", str(tmp_path), str(tmp_path / "none")) == TEMPLATES / "default_webhook.json"
    )
    (tmp_path / "default_webhook.json").write_text("{}")
    assert find_template("", "w", str(tmp_path), str(tmp_path)) == tmp_path / "default_webhook.json"


def test_tyk_relative_names_fall_back_by_file_name(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    found = find_template("templates/monitor_template.json", "w", str(tmp_path), str(templates))
    assert found == TEMPLATES / "monitor_template.json"
    (templates / "sub").mkdir(parents=True)
    (templates / "sub" / "monitor_template.json").write_text("{}")
    found = find_template("templates/sub/monitor_template.json", "w", str(tmp_path), str(templates))
    assert found == templates / "sub" / "monitor_template.json"  # as given, inside template_path: first
    absolute = str(templates / "sub" / "monitor_template.json")
    assert find_template(absolute, "w", str(tmp_path), str(templates)) == Path(absolute)


def test_a_file_beside_tyk_conf_is_not_a_template(tmp_path: Path) -> None:
    """The config folder holds tyk.conf (the secret): a name relative to it counts only inside
    template_path, else the same name is looked up there and among the packaged templates."""
    (tmp_path / "default_webhook.json").write_text('{"from": "the config folder"}')
    (tmp_path / "tyk.conf").write_text('{"secret": "s3cret"}')
    found = find_template("default_webhook.json", "w", str(tmp_path), str(tmp_path / "templates"))
    assert found == TEMPLATES / "default_webhook.json"
    with pytest.raises(ConfigError, match=r"file not found: 'tyk\.conf'"):
        find_template("tyk.conf", "w", str(tmp_path), str(tmp_path / "templates"))


@pytest.mark.parametrize(
    "value", ["/etc/passwd", "../../../../etc/hostname", "/proc/self/environ", "templates/../tyk.conf"]
)
def test_a_name_outside_template_path_is_refused_naming_field_and_value(tmp_path: Path, value: str) -> None:
    (tmp_path / "tyk.conf").write_text('{"secret": "s3cret"}')
    templates = tmp_path / "templates"
    with pytest.raises(Refused) as err:
        find_template(
            value, "apps/a.json $.event_handlers.events.AuthFailure[0]", str(tmp_path), str(templates)
        )
    assert str(err.value) == (
        f'apps/a.json $.event_handlers.events.AuthFailure[0]: "template_path": {value!r} is outside '
        f"template_path ({templates}) and the packaged templates"
    )


def test_a_link_out_of_template_path_is_refused_and_one_inside_is_followed(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "real").mkdir(parents=True)
    (tmp_path / "tyk.conf").write_text('{"secret": "s3cret"}')
    (templates / "out.json").symlink_to(tmp_path / "tyk.conf")
    (templates / "etc").symlink_to("/etc", target_is_directory=True)
    (templates / "real" / "body.json").write_text("{}")
    (templates / "in.json").symlink_to(templates / "real" / "body.json")
    refused = ["out.json", "templates/out.json", str(templates / "out.json"), "templates/etc/passwd"]
    for value in refused:
        with pytest.raises(Refused, match=f"{value!r} is a link to a file outside template_path"):
            find_template(value, "w", str(tmp_path), str(templates))
    assert find_template("in.json", "w", str(tmp_path), str(templates)) == templates / "in.json"
    # An error page has a fixed name: a link out of template_path is passed over for the packaged page.
    (templates / "error.json").symlink_to(tmp_path / "tyk.conf")
    assert template_by_name("error.json", templates) == TEMPLATES / "error.json"


@pytest.mark.parametrize("value", ["typo.json", "templates/typo.json"])
def test_a_template_found_nowhere_names_the_value(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError, match=f"api.json: \"template_path\": file not found: '{value}'"):
        find_template(value, "api.json", str(tmp_path), str(tmp_path))


def test_init_writes_a_starter_that_loads(tmp_path: Path) -> None:
    written = write_starter(tmp_path / "gw")
    assert {"tyk.conf", "apps/keyless.json", "apps/keyed.json", "middleware/on_event.py"} <= {
        str(p) for p in written
    }
    assert any(str(p).startswith("templates/") for p in written)
    conf = tmp_path / "gw" / "tyk.conf"
    assert oct(conf.stat().st_mode & 0o777) == "0o600"  # it holds the secret
    cfg = config_mod.load(conf, environ={})
    assert len(cfg.secret) == 32 and cfg.listen_address == "127.0.0.1"
    assert len(load_dir(cfg.app_path).specs) == 2
    other = json.loads((write_starter(tmp_path / "gw2"), (tmp_path / "gw2" / "tyk.conf").read_text())[1])
    assert other["secret"] != cfg.secret  # a fresh secret each time, never a published one


def test_init_into_an_empty_folder_works_and_a_used_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    write_starter(tmp_path / "empty")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="used: exists and is not an empty folder; nothing written"):
        write_starter(tmp_path / "used")
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "used"]  # no half-built folder left


def test_init_on_the_command_line(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "gateway", "init", "gw"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert "next: python -m gateway --conf gw/tyk.conf" in done.stdout
    again = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode == 2
    assert again.stderr.strip() == "error: gw: exists and is not an empty folder; nothing written"
