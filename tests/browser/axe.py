"""The accessibility check of the browser tests: axe-core (npm, pinned in package-lock.json) run on a page.

axe-core comes from node_modules/, installed by `npm ci` (`make test` runs it when the lock changed). Without it
the check fails and says so: an accessibility test that passes having checked nothing would hide regressions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# What fails a page: the impacts axe rates as barriers (a control without a name, text without contrast, ...).
FAILING_IMPACTS = ("serious", "critical")


def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` at the repository's root (`make test` does) to install axe-core")
    return AXE.read_text(encoding="utf-8")


def axe_violations(page: Any, name: str) -> list[str]:
    """Serious and critical axe violations of the page open in `page`, one line per rule: its id, the nodes' CSS
    targets and axe's help. Evaluated through the browser's debugging protocol, so the page's own
    Content-Security-Policy (no inline script) stays as served."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source() + "\n;true")
    violations = page.evaluate(
        """async () => {
            const result = await window.axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")).slice(0, 8),
            }));
        }"""
    )
    return [
        f"{name}: [{v['impact']}] {v['id']}: {v['help']} -> {'; '.join(v['targets'])}"
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]
