"""axe-core (Deque's accessibility engine, bundled by axe-core-python) run in the test's browser.

`audit(driver, page)` injects axe.min.js into the current page, runs `axe.run()` on the whole document and
fails on any violation of impact "serious" or "critical", naming the rule, its help and the elements; the
lesser ones ("moderate", "minor") are printed, so a run with `-s` shows them without failing.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

AXE_JS = (resources.files("axe_core_python") / "axe.min.js").read_text(encoding="utf-8")
FAILING = ("serious", "critical")

_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]})
    .then(r => done({violations: r.violations, version: r.testEngine.version}))
    .catch(e => done({error: String(e)}));
"""


def describe(violation: dict[str, Any]) -> str:
    nodes = violation.get("nodes", [])
    targets = ", ".join(" ".join(map(str, n.get("target", []))) for n in nodes[:5])
    more = f" (+{len(nodes) - 5} more)" if len(nodes) > 5 else ""
    return f"[{violation.get('impact')}] {violation['id']}: {violation.get('help')} -- {targets}{more}"


def audit(driver: WebDriver, page: str) -> list[dict[str, Any]]:
    """Run axe on the current page; fail on serious or critical violations; return every violation."""
    driver.execute_script(AXE_JS)
    result: dict[str, Any] = driver.execute_async_script(_RUN)
    if "error" in result:
        pytest.fail(f"axe-core could not run on the {page} page: {result['error']}", pytrace=False)
    violations: list[dict[str, Any]] = result["violations"]
    print(f"axe {result['version']} on the {page} page: {len(violations)} violations")
    for violation in violations:
        if violation.get("impact") not in FAILING:
            print(f"axe {result['version']} on the {page} page: {describe(violation)}")
    bad = [describe(v) for v in violations if v.get("impact") in FAILING]
    assert not bad, f"axe-core found serious accessibility violations on the {page} page:\n" + "\n".join(bad)
    return violations
