"""Who may import whom (docs/architecture.md, "Who may import whom"): walked with `ast`, not trusted."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "gateway"
# Everyone may use these (and the version); gateway.sealing is pure crypto (chain/ and delivery/ seal).
# gateway.packaged only locates the package's own files (templates, examples); gateway.outbound is the
# policy every room that calls out on its own applies (handlers, delivery, monitors, app); gateway.tasks
# is how every room ends the tasks it started.
BASE = (
    "gateway.errors",
    "gateway.log",
    "gateway",
    "gateway.__version__",
    "gateway.sealing",
    "gateway.packaged",
    "gateway.outbound",
    "gateway.tasks",
)

# Each module is under the rule of its longest matching prefix; every module must have one.
RULES: dict[str, tuple[str, ...]] = {
    # The kernel.
    "gateway": (),  # the package itself only names the version
    "gateway.errors": (),
    "gateway.log": (),
    "gateway.tasks": (),  # cancel_and_wait: how every room ends the tasks it started
    "gateway.sealing": (),
    "gateway.packaged": (),
    "gateway.usercode": (),
    "gateway.starter": (),
    "gateway.manifests": (),  # JSON, YAML and Operator manifests as documents: the loaders' shared reader
    "gateway.config": ("gateway.config",),
    "gateway.outbound": ("gateway.config",),  # applies tyk.conf's `outbound` lists
    # What middleware may touch: the one module that names the rooms' request-time types.
    "gateway.context": (
        "gateway.apidef.model",
        "gateway.certs.registry",
        "gateway.config",
        "gateway.events",
        "gateway.identity.session",
        "gateway.identity.sessions",
        "gateway.monitors.quota",
        "gateway.store.base",
        "gateway.store.limiter",
        "gateway.upstream",
    ),
    "gateway.routing": ("gateway.chain", "gateway.context", "gateway.upstream", "gateway.apidef.model"),
    # The commands and the composition root.
    "gateway.__main__": (
        "gateway.app",
        "gateway.config",
        "gateway.certs.tls",
        "gateway.demo",
        "gateway.starter",
    ),
    "gateway.demo": ("gateway.app", "gateway.config", "gateway.testing"),
    "gateway.app": ("gateway",),  # everything
    "gateway.testing": (
        "gateway.testing",
        "gateway.app",
        "gateway.certs.tls",
        "gateway.config",
        "gateway.upstream.proxy",
    ),
    # The rooms.
    "gateway.apidef": ("gateway.apidef", "gateway.manifests"),
    "gateway.chain": (
        "gateway.chain",
        "gateway.usercode",
        "gateway.config",
        "gateway.context",
        "gateway.events.catalog",
        "gateway.identity.keyhash",
        "gateway.identity.limits",
        "gateway.identity.session",
        "gateway.identity.sessions",
        "gateway.apidef.model",
    ),
    "gateway.identity": ("gateway.identity", "gateway.config", "gateway.store.base", "gateway.manifests"),
    "gateway.upstream": ("gateway.upstream",),
    "gateway.upstream.balancer": ("gateway.apidef.model",),
    "gateway.events": (),
    "gateway.events.catalog": (),
    "gateway.events.routes": ("gateway.events.catalog",),
    "gateway.events.live": ("gateway.events.catalog",),
    "gateway.events.schemas": ("gateway.events.catalog",),  # the event catalog's JSON Schemas, samples
    "gateway.events.asyncapi": ("gateway.events.catalog", "gateway.events.schemas"),
    "gateway.events.kept": ("gateway.events.catalog", "gateway.events.schemas"),  # a kept event rebuilt
    "gateway.events.bus": (
        "gateway.events.catalog",
        "gateway.events.live",
        "gateway.events.routes",
        "gateway.handlers.base",
        "gateway.config",
    ),
    "gateway.handlers": (
        "gateway.handlers",
        "gateway.events.catalog",
        "gateway.events.schemas",  # sample events (the test event, the template preview)
        "gateway.templating.template",
        "gateway.store.base",
        "gateway.apidef.model",
        "gateway.delivery.model",
        "gateway.delivery.options",
        "gateway.delivery.signing",
        "gateway.delivery.cooldown",
        "gateway.delivery.envelope",
        "gateway.delivery.digest",
        "gateway.usercode",
    ),
    "gateway.delivery": (
        "gateway.delivery",
        "gateway.store.base",
        "gateway.store.files",
        "gateway.store.journal",
        "gateway.config",
    ),
    # The Redis outbox rides the Redis store's connection: the one place delivery/ names a backend.
    "gateway.delivery.outboxes": (
        "gateway.delivery",
        "gateway.store.base",
        "gateway.store.redis",
        "gateway.config",
    ),
    "gateway.monitors": (
        "gateway.monitors",
        "gateway.apidef.model",
        "gateway.config",
        "gateway.events.catalog",
        "gateway.store.base",
        "gateway.upstream.balancer",
    ),
    "gateway.certs": (
        "gateway.certs",
        "gateway.apidef",
        "gateway.config",
        "gateway.events.catalog",
        "gateway.store.base",
    ),
    "gateway.store": ("gateway.store", "gateway.config"),
    "gateway.templating": ("gateway.templating",),
    "gateway.admin": (
        "gateway.admin",
        "gateway.apidef",
        "gateway.certs.store",
        "gateway.config",
        "gateway.delivery.history",
        "gateway.events.catalog",
        "gateway.events.live",
        "gateway.events.asyncapi",
        "gateway.handlers",
        "gateway.identity",
        "gateway.store.base",
    ),
    # The Dashboard: pages over what the REST API sees (its deps, its shared framing, the API save).
    "gateway.dashboard": (
        "gateway.dashboard",
        "gateway.admin.deps",
        "gateway.admin.common",
        "gateway.admin.apis",
        "gateway.apidef",
        "gateway.config",
        "gateway.delivery.history",
        "gateway.events",
        "gateway.handlers",
        "gateway.store.base",
    ),
    # Metrics and traces: the families, the measured and traced routes (kernel APIRoutes), the tracer
    # as tyk.conf `opentelemetry` sets it, webhook attempts' spans; app/metered.py, app/traced.py wire them.
    "gateway.observe": (
        "gateway.observe",
        "gateway.routing",
        "gateway.context",
        "gateway.chain",
        "gateway.apidef.model",
        "gateway.config.telemetry",
        "gateway.delivery.model",
        "gateway.upstream.balancer",
        "gateway.upstream.proxy",
    ),
    "gateway.examples": (),  # the starter's example handler is user code: it imports nothing of ours
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


def rule_of(name: str) -> tuple[str, ...] | None:
    """The rule of the longest matching prefix; "gateway" itself covers only the package's __init__."""
    for key in sorted(RULES, key=len, reverse=True):
        if name == key or (key != "gateway" and name.startswith(key + ".")):
            return RULES[key]
    return None


def test_layering() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        name = module_name(path)
        found = imports(path)
        if not any(within(name, room) for room in ("gateway.app", *APP_IMPORTERS)):
            problems += [f"{name} imports {t}" for t in found if within(t, "gateway.app")]
        rule = rule_of(name)
        if rule is None:
            problems.append(f"{name} is under no import rule: add one to RULES (and docs/architecture.md)")
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


def test_every_rule_names_modules_that_exist() -> None:
    names = {module_name(p) for p in PACKAGE.rglob("*.py")}
    stale = [k for k in RULES if not any(n == k or n.startswith(k + ".") for n in names)]
    assert rule_of("gateway.brand_new_module") is None  # an unruled module is reported, not let through
    assert not stale, f"rules for modules that are gone: {stale}"
