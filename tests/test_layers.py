"""Who may import whom (docs/architecture.md, "Who may import whom"): walked with `ast`, not trusted."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gateway"
# Everyone may use these (and the version); gateway.sealing is pure crypto (chain/ and delivery/ seal).
# gateway.packaged only locates the package's own files (templates, examples).
BASE = ("gateway.errors", "gateway.log", "gateway", "gateway.sealing", "gateway.packaged")

RULES: dict[str, tuple[str, ...]] = {
    "gateway.apidef": ("gateway.apidef",),
    "gateway.store": ("gateway.store", "gateway.config"),
    "gateway.events.catalog": (),
    "gateway.events.routes": ("gateway.events.catalog",),
    "gateway.events.bus": (
        "gateway.events.catalog",
        "gateway.events.routes",
        "gateway.handlers.base",
        "gateway.config",
    ),
    "gateway.handlers": (
        "gateway.handlers",
        "gateway.events.catalog",
        "gateway.templating.template",
        "gateway.store.base",
        "gateway.apidef.model",
        "gateway.delivery.model",
        "gateway.delivery.options",
        "gateway.delivery.signing",
        "gateway.delivery.cooldown",
        "gateway.usercode",
        "gateway.handlers.global_webhooks",
    ),
    "gateway.delivery": (
        "gateway.delivery",
        "gateway.store.base",
        "gateway.store.files",
        "gateway.config",
    ),
    "gateway.usercode": (),
    "gateway.packaged": (),
    "gateway.sealing": (),
    "gateway.chain": (
        "gateway.chain",
        "gateway.usercode",
        "gateway.config",
        "gateway.context",
        "gateway.events.catalog",
        "gateway.identity.sessions",
        "gateway.apidef.model",
    ),
    "gateway.routing": (
        "gateway.chain",
        "gateway.context",
        "gateway.upstream",
        "gateway.apidef.model",
    ),
    "gateway.upstream.balancer": ("gateway.apidef.model",),
    "gateway.proxy": (),
    "gateway.templating.template": ("gateway.templating.go",),
}
# Only these may import the composition root.
APP_IMPORTERS = ("gateway.__main__", "gateway.demo", "gateway.testing")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("gateway")}


def within(name: str, room: str) -> bool:
    return name == room or name.startswith(room + ".")


def allowed(target: str, prefixes: tuple[str, ...]) -> bool:
    return target in BASE or any(target == p or target.startswith(p + ".") for p in prefixes)


def test_layering() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        found = imports(path)
        if not any(within(name, room) for room in ("gateway.app", *APP_IMPORTERS)):
            problems += [f"{name} imports {t}" for t in found if within(t, "gateway.app")]
        rule = next(
            (RULES[k] for k in sorted(RULES, key=len, reverse=True) if name == k or name.startswith(k + ".")),
            None,
        )
        if rule is None:
            continue
        # A module's own package and members are never a violation (from gateway.x import y).
        for target in found:
            # `from gateway.delivery import cooldown` records the package too: its allowed member speaks.
            via_member = any(within(t, target) and t != target and allowed(t, rule) for t in found)
            if not allowed(target, rule) and not _is_member_of(target, rule) and not via_member:
                problems.append(f"{name} imports {target}")
    assert not problems, "\n".join(problems)


def _is_member_of(target: str, rule: tuple[str, ...]) -> bool:
    """`from gateway.events.catalog import Event` records gateway.events.catalog.Event too: allow it."""
    parent = target.rsplit(".", 1)[0]
    return allowed(parent, rule) and parent not in ("gateway",)


def test_every_module_has_a_docstring_and_a_sane_size() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path} has no module docstring"
        assert len(path.read_text().splitlines()) <= 400, f"{path} is over 400 lines: split it"
