"""The locks: the runtime one holds only what the application needs, both carry hashes, and they agree."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def pins(lock: str) -> dict[str, tuple[str, frozenset[str]]]:
    """name -> (version, hashes) of a pip-compile lock with --generate-hashes."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    text = (ROOT / lock).read_text()
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            found[_name(match.group(1))] = (match.group(2), frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return found


def wanted(requirements_in: str) -> set[str]:
    names = set()
    for line in (ROOT / requirements_in).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(_name(re.split(r"[\[<>=!~ ;]", line, maxsplit=1)[0]))
    return names


def test_every_pin_of_both_locks_carries_hashes():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        locked = pins(lock)
        assert locked, lock
        assert all(hashes for _version, hashes in locked.values()), lock


def test_the_runtime_lock_holds_what_the_application_needs_and_no_test_or_lint_tool():
    runtime = pins("requirements.lock")
    assert wanted("requirements.in") <= set(runtime)
    tools = wanted("requirements-dev.in") - wanted("requirements.in")
    assert {"pytest", "ruff", "mypy", "playwright"} <= tools
    assert not tools & set(runtime)


def test_the_development_lock_holds_the_runtime_one_unchanged_and_the_tools():
    runtime, development = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: development.get(name) for name in runtime} == runtime
    assert wanted("requirements-dev.in") <= set(development)


def test_make_run_installs_the_runtime_lock_and_test_and_lint_the_development_one():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(PIP) --require-hashes -r requirements.lock" in makefile
    assert "$(PIP) --require-hashes -r requirements-dev.lock" in makefile
    targets = dict(re.findall(r"^([a-z-]+): (\S+)", makefile, re.M))
    assert targets["run"] == "$(RUN_STAMP)"
    assert targets["test"] == targets["test-postgres"] == targets["lint"] == "$(DEV_STAMP)"
