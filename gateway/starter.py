"""`python -m gateway init DIR`: a working starter folder, so "my own config" is one command.

Owns writing tyk.conf (a fresh random secret, loopback, the embedded store), apps/ with one keyless and
one keyed API, templates/ (the packaged defaults, to edit) and middleware/ (a Python event handler). It
writes all or nothing and never overwrites: the folder is built beside its target and renamed into place.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from gateway.errors import ConfigError
from gateway.packaged import STARTER, TEMPLATES


def starter_conf() -> dict[str, object]:
    """The starter tyk.conf: Tyk's keys with this gateway's defaults spelled out where a user edits."""
    return {
        "listen_address": "127.0.0.1",
        "listen_port": 8080,
        # Never a published value: the REST API is as safe as this secret.
        "secret": secrets.token_hex(16),
        "app_path": "apps",
        "template_path": "templates",
        "middleware_path": "middleware",
        "storage": {"type": "embedded", "path": "data"},
        "hash_keys": True,
        "enable_hashed_keys_listing": True,
        "log_level": "info",
    }


def write_starter(folder: Path) -> list[Path]:
    """Write the starter into `folder` (absent or empty); return the files written, relative to it.
    A folder with anything in it is a ConfigError and nothing is written."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise ConfigError(str(folder), "exists and is not an empty folder; nothing written")
    parent = folder.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=parent))
    try:
        (building / "tyk.conf").write_text(json.dumps(starter_conf(), indent=2) + "\n", encoding="utf-8")
        shutil.copytree(STARTER / "apps", building / "apps")
        shutil.copytree(STARTER / "middleware", building / "middleware", ignore=_not_source)
        shutil.copytree(TEMPLATES, building / "templates", ignore=_not_source)
        # The conf holds the secret: owner-only, like the store's journal.
        (building / "tyk.conf").chmod(0o600)
        building.chmod(0o755)
        # rename() replaces an empty folder atomically, so a reader sees all of the starter or none.
        os.rename(building, folder)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())


def _not_source(_folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")]
