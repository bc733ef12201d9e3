"""The static security linter (ruff's S rules, from flake8-bandit) is on, with no exception for the whole project."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
RUFF = Path(sys.executable).parent / "ruff"

INSECURE = """\
import random
import subprocess


def run(command: str) -> None:
    subprocess.run(command, shell=True, check=True)


def token() -> str:
    return str(random.random())


def check(user: object) -> None:
    assert user is not None
"""


def _lint() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["lint"]


def _findings(path: str) -> set[str]:
    """The rules ruff finds in INSECURE, checked as if it were the file `path` of this project (with its config)."""
    result = subprocess.run(
        [str(RUFF), "check", "--no-cache", "--output-format", "concise", "--stdin-filename", path, "-"],
        input=INSECURE,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return {line.split(" ")[1] for line in result.stdout.splitlines() if line.startswith(path)}


def test_the_s_rules_are_selected_and_none_is_ignored_for_the_whole_project():
    lint = _lint()
    assert "S" in lint["select"]
    assert not [rule for rule in lint["ignore"] if rule.startswith("S")]
    for pattern, rules in lint["per-file-ignores"].items():
        assert "S" not in rules, f"{pattern}: name the S rules that do not apply, and why"


@pytest.mark.parametrize("path", ["tracecenter/core/example.py", "tracecenter/api/views_example.py", "manage_example.py"])
def test_insecure_code_in_the_application_fails_the_lint(path):
    assert {"S602", "S311", "S101"} <= _findings(path)


def test_a_test_may_assert_but_not_run_a_shell_nor_draw_from_random():
    assert _findings("tracecenter/core/tests/test_example.py") >= {"S602", "S311"}
    assert "S101" not in _findings("tracecenter/core/tests/test_example.py")
