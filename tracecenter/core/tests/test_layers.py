"""The import layers: the whole planned stack is declared, and no app lives outside it."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "tracecenter"

# Bottom to top, as docs/platform.md draws it; "|" joins apps that sit side by side.
STACK = [
    "core",
    "accounts",
    "audit",
    "people",
    "intake",
    "cases",
    "contacts",
    "knowledge | clusters",
    "comms",
    "routing",
    "monitoring | housing",
    "workforce",
    "quality",
    "reports",
    "workspace | api",
    "demo",
]


def _contract() -> dict[str, object]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [c for c in config["tool"]["importlinter"]["contracts"] if c["type"] == "layers"]
    return layers


def _declared() -> list[str]:
    return [re.sub(r"[()]", "", layer) for layer in reversed(_contract()["layers"])]  # type: ignore[arg-type]


def test_the_contract_declares_the_whole_planned_stack_bottom_to_top() -> None:
    assert _declared() == STACK
    assert _contract()["exhaustive"] is True


def test_every_app_under_tracecenter_is_in_the_stack() -> None:
    apps = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    in_stack = {name.strip() for layer in _declared() for name in layer.split("|")}
    assert apps - in_stack == set(), "an app outside the declared stack: add it to the layers in pyproject.toml"


def test_lint_imports_keeps_every_contract() -> None:
    tool = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(tool), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
