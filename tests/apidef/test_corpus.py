"""Tyk's own definitions (data in the shared corpus, never copied here): every file loads or is skipped
with a reason naming a field or the JSON problem, never a traceback, and no unsupported auth is served."""

from __future__ import annotations

import copy
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.apidef.classic import UNSUPPORTED_AUTH
from gateway.apidef.loader import LoadResult, load_dir, parse
from gateway.errors import ConfigError
from tests.corpus import corpus

NAMES_A_PROBLEM = re.compile(r"^(\$[.\[:]|not valid JSON|not UTF-8|duplicate|cannot read)")


def check_folder(folder: Path) -> LoadResult:
    result = load_dir(str(folder))
    files = sorted(str(p) for p in folder.glob("*.json"))
    loaded = [s.source for s in result.specs]
    skipped = [f for f, _ in result.skipped]
    assert sorted(loaded + skipped) == files, "every file is either loaded or skipped, once"
    for file, reason in result.skipped:
        assert NAMES_A_PROBLEM.match(reason), f"{file}: {reason}"
    for spec in result.specs:
        raw = spec.raw
        if spec.format == "classic":
            assert not any(raw.get(key) is True for key, _ in UNSUPPORTED_AUTH), spec.source
        else:
            schemes = (
                raw["x-tyk-api-gateway"]
                .get("server", {})
                .get("authentication", {})
                .get("securitySchemes", {})
            )
            declared = raw.get("components", {}).get("securitySchemes", {})
            kinds = {
                (declared[n]["type"], declared[n].get("scheme"))
                for n, s in schemes.items()
                if s.get("enabled")
            }
            assert kinds <= {("apiKey", None), ("http", "basic"), ("http", "bearer")}, spec.source
    print(f"\n{folder.name}: {len(result.specs)} loaded, {len(result.skipped)} skipped of {len(files)} files")
    return result


def test_corpus_apps() -> None:
    result = check_folder(corpus() / "apps")
    assert 30 <= len(result.specs) <= 60 and len(result.skipped) >= 10
    reasons = dict(result.skipped)
    jwt = [s for s in result.specs if s.raw.get("enable_jwt") is True]
    assert len(jwt) >= 4 and all(s.jwt is not None for s in jwt)  # every JWT definition loads
    assert not [
        f
        for f in reasons
        if json.loads(Path(f).read_text()).get("enable_jwt") is True and "api_id" not in reasons[f]
    ]
    assert any("use_oauth2" in r for r in reasons.values())
    basic = [s for s in result.specs if s.raw.get("use_basic_auth") is True]
    assert len(basic) >= 2 and all(s.basic_auth is not None and s.auth is None for s in basic)
    formats = {s.format for s in result.specs}
    assert "classic" in formats
    assert any(s.auth is not None for s in result.specs) and any(s.auth is None for s in result.specs)
    assert any(s.rate_limit is not None for s in result.specs)


def test_corpus_oas() -> None:
    result = check_folder(corpus() / "oas")
    assert {s.api_id for s in result.specs} >= {"3659a8b96b2b43c64a0b0b0e86788edd"}  # urlRewrite.json
    reasons = {Path(f).name: r for f, r in result.skipped}
    assert reasons["petstore-no-responses.json"].startswith("$.x-tyk-api-gateway")
    assert "listenPath" in reasons["empty-x-tyk-ext-oas-template.json"]


def mutations(doc: Any, rng: random.Random, limit: int) -> list[tuple[list[Any], Any]]:
    """Up to `limit` nodes of the file, each paired with values of every JSON shape."""
    paths: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        paths.append(path)
        children = (
            node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        )
        for key, child in children:
            walk(child, [*path, key])

    walk(doc, [])
    chosen = rng.sample(paths[1:], min(limit, len(paths) - 1))
    shapes: tuple[Any, ...] = (None, "x", -1, 2.5, True, [], {}, [{}], {"enabled": True})
    return [(p, v) for p in chosen for v in shapes]


def test_wrong_shapes_anywhere_in_real_files_give_config_errors_only() -> None:
    """A corrupted real file is a ConfigError (skipped with a reason) or still a spec: never another error.
    (Mutating every node of every file, about 44,000 cases, passes too; a seeded sample keeps this fast.)"""
    rng = random.Random(20260821)
    folder, ours = corpus(), Path(__file__).resolve().parents[2]
    outcomes = {"spec": 0, "error": 0}
    files = [
        *folder.glob("apps/*.json"),
        *folder.glob("oas/*.json"),
        *ours.glob("apps/*.json"),
        *ours.glob("tests/data/apps/*.json"),
    ]
    for file in sorted(files):
        original = json.loads(file.read_text())
        for path, value in mutations(original, rng, limit=30):
            doc = copy.deepcopy(original)
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            try:
                parse(doc, file.name)
                outcomes["spec"] += 1
            except ConfigError as exc:
                assert exc.where == file.name and NAMES_A_PROBLEM.match(exc.reason), exc.reason
                outcomes["error"] += 1
    assert outcomes["spec"] > 100 and outcomes["error"] > 100, outcomes


@pytest.mark.parametrize("name", ["apps", "oas"])
def test_loading_the_corpus_twice_gives_the_same_specs(name: str) -> None:
    first, second = load_dir(str(corpus() / name)), load_dir(str(corpus() / name))
    assert first == second
