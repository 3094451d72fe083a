"""The docs stay true: README.md and docs/*.md are checked against the code they describe.

Every page is linked from the README and every relative link resolves; shell blocks parse with `bash -n`
and every gateway command in them parses with the command line's own parser; JSON blocks parse and the
tyk.conf fragments among them load; Python blocks compile; the room map, the event table, the tyk.conf key
table and the REST endpoint table name what the code has; the deploy/ files run the gateway as a user
that is not root, with arguments the command line accepts.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shlex
import subprocess
import typing
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import __main__ as cli
from gateway.admin import build_admin
from gateway.config import model as config_mod
from gateway.events.catalog import Event

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TEXTS = [README, *PAGES]
UNIT = ROOT / "deploy" / "tyk-mini-gateway.service"
CONTAINERFILE = ROOT / "deploy" / "Containerfile"


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.file.relative_to(ROOT)}:{self.line}"


def blocks(file: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file, indented ones (in lists) included."""
    found: list[Block] = []
    lines = file.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(\s*)```(\S*)", lines[i])
        if opening is None:
            i += 1
            continue
        indent, lang, start = opening.group(1), opening.group(2), i
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        assert i < len(lines), f"{file.relative_to(ROOT)}:{start + 1}: code block never closed"
        found.append(Block(file, start + 1, lang, "\n".join(body) + "\n"))
        i += 1
    return found


def prose(file: Path) -> str:
    """The file without its fenced code blocks (links and inline code live in the prose)."""
    return re.sub(r"^\s*```.*?^\s*```[^\n]*$", "", file.read_text(), flags=re.M | re.S)


def section(file: Path, title: str) -> str:
    text = file.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


ALL_BLOCKS = [b for f in TEXTS for b in blocks(f)]


def of(*langs: str) -> list[Block]:
    return [b for b in ALL_BLOCKS if b.lang in langs]


# -- pages and links ----------------------------------------------------------------------------------


def links(file: Path) -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`\n]*`", "", prose(file)))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(file: Path) -> set[str]:
    return {slug(h) for h in re.findall(r"^#+ (.+)$", prose(file), re.M)}


def test_there_are_docs_and_the_readme_links_every_page() -> None:
    assert len(PAGES) >= 9, "docs/ lost its pages"
    linked = {(README.parent / link.split("#")[0]).resolve() for link in links(README)}
    missing = [p.name for p in PAGES if p.resolve() not in linked]
    assert not missing, f"README.md does not link docs/{missing}"


def test_every_relative_link_points_at_a_file_that_exists() -> None:
    broken: list[str] = []
    checked = 0
    for file in TEXTS:
        for link in links(file):
            if re.match(r"^[a-z][a-z0-9+.-]*:", link):  # https:, mailto:
                continue
            path, _, anchor = link.partition("#")
            target = (file.parent / path).resolve() if path else file
            checked += 1
            if not target.exists():
                broken.append(f"{file.relative_to(ROOT)}: {link} (no such file)")
            elif anchor and target.suffix == ".md" and anchor not in anchors(target):
                broken.append(f"{file.relative_to(ROOT)}: {link} (no such heading)")
    assert checked >= 20
    assert not broken, "\n".join(broken)


def test_no_page_cites_the_design_document_outside_the_repository() -> None:
    assert not [f.name for f in TEXTS if "DESIGN.md" in f.read_text()]


def test_the_readme_stays_short() -> None:
    assert len(README.read_text().splitlines()) <= 160


def test_every_test_a_page_cites_exists() -> None:
    """A promise that names its test (`tests/x.py::test_name`) names one the suite runs."""
    cited = [(f, m) for f in TEXTS for m in re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", prose(f))]
    missing = [
        f"{file.relative_to(ROOT)}: {path}::{name}"
        for file, (path, name) in cited
        if not (ROOT / path).exists()
        or not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M)
    ]
    assert len(cited) >= 20
    assert not missing, "\n".join(missing)


# -- shell blocks and the commands in them ------------------------------------------------------------


def test_every_shell_block_parses_with_bash() -> None:
    shell = of("sh", "bash", "shell")
    assert len(shell) >= 15
    for block in shell:
        done = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{block.where}: bash -n says {done.stderr.strip()}"


PUNCTUATION = set("();<>|&")
PREFIXES = {"sudo", "exec", "nohup", "env", "time", "do", "then", "else", "!"}


def gateway_argv(words: list[str]) -> list[str] | None:
    """The gateway's arguments if `words` (one simple command) runs it, else None."""
    while words and (words[0] in PREFIXES or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
        words = words[1:]
    if words[:1] == ["runuser"]:
        words = words[words.index("--") + 1 :] if "--" in words else []
    if not words:
        return None
    program = words[0].rsplit("/", 1)[-1]
    if program == "tyk-mini-gateway":
        return words[1:]
    if re.fullmatch(r"python(3(\.\d+)?)?", program) and words[1:3] == ["-m", "gateway"]:
        return words[3:]
    return None


def commands(line: str) -> list[list[str]]:
    """The gateway invocations in one shell line (comments, redirections and pipes understood)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    found: list[list[str]] = []
    segment: list[str] = []
    for token in [*tokens, ";"]:
        if set(token) <= PUNCTUATION:
            if token[0] in "<>" and segment and segment[-1].isdigit():
                segment = segment[:-1]  # the 2 of 2>&1
            argv = gateway_argv(segment) if segment else None
            if argv is not None:
                found.append(argv)
            segment = []
        else:
            segment.append(token)
    return found


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every gateway command in a shell block (line by line) or in inline code, with where it is."""
    found: list[tuple[str, list[str]]] = []
    for block in of("sh", "bash", "shell"):
        for line in block.text.replace("\\\n", " ").splitlines():
            found += [(block.where, argv) for argv in commands(line)]
    for file in TEXTS:
        for span in re.findall(r"`([^`\n]+)`", prose(file)):
            if re.match(r"^(\S*/)?(python3?|tyk-mini-gateway)\b", span):
                found += [(f"{file.relative_to(ROOT)}: `{span}`", argv) for argv in commands(span)]
    return found


def parse(argv: list[str], where: str) -> argparse.Namespace:
    # gateway.__main__.build_parser() is the command line's own parser: what main() parses with.
    parser: argparse.ArgumentParser = cli.build_parser()
    try:
        return parser.parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: the command line refuses {shlex.join(argv)!r}")


def test_every_gateway_command_in_the_docs_parses() -> None:
    found = documented_commands()
    for where, argv in found:
        parse(argv, where)
    seen = {argv[0] if argv and not argv[0].startswith("-") else "serve" for _, argv in found}
    assert {"serve", "init", "check", "demo"} <= seen, f"commands found: {sorted(seen)}"
    assert any("--workers" in argv for _, argv in found)


# -- JSON and Python blocks ---------------------------------------------------------------------------

CONFIG_KEYS = {f.name for f in dataclasses.fields(config_mod.Config)} - {"config_dir"}
API_MARKERS = {"api_id", "proxy", "x-tyk-api-gateway", "openapi"}


def test_json_blocks_parse_and_tyk_conf_fragments_load(tmp_path: Path) -> None:
    fragments = 0
    for block in of("json"):
        try:
            value = json.loads(block.text)
        except json.JSONDecodeError as exc:
            pytest.fail(f"{block.where}: not JSON: {exc}")
        # A tyk.conf fragment: an object with a tyk.conf key that is not an API definition.
        if isinstance(value, dict) and value.keys() & CONFIG_KEYS and not value.keys() & API_MARKERS:
            fragments += 1
            warnings: list[str] = []
            config_mod.from_dict(value, where=block.where, base_dir=tmp_path, warn=warnings.append)
            assert not warnings, f"{block.where}: {warnings}"
    assert fragments >= 4


def test_python_blocks_compile() -> None:
    python = of("python")
    assert len(python) >= 4
    for block in python:
        compile(block.text, block.where, "exec")


# -- reference tables against the code ----------------------------------------------------------------


def test_room_map_names_every_module_and_package() -> None:
    room_map = section(DOCS / "architecture.md", "Room map")
    package = ROOT / "gateway"
    rooms = {p.name for p in package.iterdir() if p.suffix == ".py" and p.name != "__init__.py"}
    rooms |= {p.name + "/" for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    missing = sorted(r for r in rooms if r not in room_map)
    assert not missing, f"docs/architecture.md room map lacks {missing}"
    named = re.findall(r"^  (\S+)", room_map, re.M)
    assert len(named) >= len(rooms)
    stale = [n for n in named if not (package / n).exists()]
    assert not stale, f"docs/architecture.md room map names what gateway/ lacks: {stale}"
    # Each room's entry names each of its modules (as `x.py` or `x`), so a new module cannot drift past it.
    entries = dict(re.findall(r"^  (\S+/) +(.*?)(?=^  \S|\Z)", room_map, re.M | re.S))
    unnamed = [
        f"{room}{module.name}"
        for room, text in entries.items()
        if (package / room / "__init__.py").exists()
        for module in sorted((package / room).glob("*.py"))
        if module.name != "__init__.py" and not re.search(rf"\b{module.stem}\b", text)
    ]
    assert not unnamed, f"docs/architecture.md room map does not name {unnamed} in its room's entry"


def test_event_table_names_every_event_and_only_real_ones() -> None:
    rows = [r for r in section(DOCS / "events.md", "The events").splitlines() if r.startswith("| `")]
    named = {n for row in rows for n in re.findall(r"`([A-Za-z0-9]+)`", row.split("|")[1])}
    known = {e.value for e in Event}
    assert named <= known, f"docs/events.md names events the catalog lacks: {sorted(named - known)}"
    assert known <= named, f"docs/events.md lacks events: {sorted(known - named)}"


def config_keys(cls: type[Any], prefix: str = "") -> list[str]:
    hints = typing.get_type_hints(cls)
    keys: list[str] = []
    for f in dataclasses.fields(cls):
        if f.name == "config_dir":
            continue
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            keys += config_keys(hint, f"{prefix}{f.name}.")
        else:
            keys.append(prefix + f.name)
    return keys


def test_configuration_page_has_a_row_for_every_key() -> None:
    rows = [r for r in section(DOCS / "configuration.md", "Every key").splitlines() if r.startswith("| `")]
    documented = {row.split("`")[1] for row in rows}
    keys = set(config_keys(config_mod.Config))
    assert len(keys) >= 70
    assert not keys - documented, f"docs/configuration.md lacks {sorted(keys - documented)}"
    assert not documented - keys, f"docs/configuration.md has keys tyk.conf lacks: {documented - keys}"


def test_rest_api_page_has_every_route_with_its_methods() -> None:
    stub = SimpleNamespace(config=config_mod.Config(), cert_store=None)  # what routes() read when built
    admin = build_admin(typing.cast(Any, stub))
    routes: dict[str, set[str]] = {}
    for route in admin.routes:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", getattr(route, "path", "")).rstrip("/")
        routes.setdefault(path, set()).update(getattr(route, "methods", None) or ())
    rows = [r.split("|")[1] for r in (DOCS / "rest-api.md").read_text().splitlines() if r.startswith("| `")]
    assert len(routes) >= 15
    for path, methods in routes.items():
        cells = [c for c in rows if re.search(re.escape(path) + r"(?![\w/{])", c)]
        listed = {m for c in cells for m in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE)\b", c)}
        # The health check takes every method and answers 405 to all but GET itself.
        wanted = {"GET"} if path == "/hello" else methods - {"HEAD"}
        assert cells, f"docs/rest-api.md has no row for {path}"
        assert wanted <= listed, f"docs/rest-api.md: {path} lacks {sorted(wanted - listed)}"


# -- deploy/ ------------------------------------------------------------------------------------------


def unit_service() -> dict[str, list[str]]:
    """The [Service] section of the unit: key -> values (systemd allows a key more than once)."""
    values: dict[str, list[str]] = {}
    current = ""
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line
        elif current == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_systemd_unit_runs_the_gateway_as_a_user_that_is_not_root() -> None:
    service = unit_service()
    (user,) = service["User"]
    assert user and user not in ("root", "0")
    (exec_start,) = service["ExecStart"]
    argv = gateway_argv(shlex.split(exec_start.lstrip("-@+!:")))
    assert argv is not None, f"ExecStart does not run the gateway: {exec_start}"
    args = parse(argv, "deploy/tyk-mini-gateway.service ExecStart")
    assert args.command is None and args.conf, "ExecStart should serve, with --conf"


def containerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines = [ln for ln in CONTAINERFILE.read_text().splitlines() if not ln.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            found.append((instruction.upper(), rest.strip()))
    return found


def exec_form(arguments: str) -> list[str]:
    return list(json.loads(arguments)) if arguments.startswith("[") else shlex.split(arguments)


def test_containerfile_runs_the_gateway_as_a_user_that_is_not_root() -> None:
    steps = containerfile()
    assert steps[0][0] in ("FROM", "ARG")
    users = [rest for instruction, rest in steps if instruction == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    last = {instruction: rest for instruction, rest in steps}  # the last of each counts
    argv = gateway_argv(exec_form(last.get("ENTRYPOINT", "[]")) + exec_form(last.get("CMD", "[]")))
    assert argv is not None, "ENTRYPOINT and CMD do not run the gateway"
    args = parse(argv, "deploy/Containerfile ENTRYPOINT + CMD")
    assert args.command is None and args.conf, "the image should serve, with --conf"


def test_containerfile_copies_only_what_the_repository_has() -> None:
    copies = [exec_form(rest) for instruction, rest in containerfile() if instruction == "COPY"]
    assert copies
    sources = [s for argv in copies for s in argv[:-1] if not s.startswith("--")]
    assert not [s for s in sources if not (ROOT / s).exists()]
