"""bench/lists.py keeps working: a tiny state, three users signing in and opening every page, no error.

It needs PostgreSQL (the bench's loader writes with COPY) and locust; on SQLite it is skipped, and the
suite on PostgreSQL (`make test-postgres`, CI) runs it. CI also runs the bench at its --small size.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[1]


def _postgres_base() -> str | None:
    db: dict[str, Any] = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return None
    return f"postgres://{db.get('USER') or 'postgres'}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(_postgres_base() is None, reason="the bench loads its data with PostgreSQL's COPY")
@pytest.mark.skipif(importlib.util.find_spec("locust") is None, reason="locust (requirements-dev) is not installed")
def test_the_lists_bench_signs_users_in_and_serves_every_page_without_an_error(tmp_path: Path) -> None:
    import psycopg

    base = _postgres_base()
    name = f"{settings.DATABASES['default']['NAME']}_bench_lists"[:63]
    try:
        run = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "lists.py"),
                *("--persons", "2000", "--cases", "200", "--contacts", "400", "--users", "3", "--seconds", "6"),
                *("--spawn-rate", "3", "--port", str(_free_port()), "--fresh", "--database", f"{base}/{name}"),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "TRACECENTER_VAR_DIR": str(tmp_path / "var")},
            check=False,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout)
        assert result["errors"] == 0 and result["sign_ins"] == {"done": 3, "failed": 0}
        assert result["persons"] == 2000 and result["users"] == 3
        # One supervisor opens the filtered case list, two workers My work; each of them a person page and a search.
        for page in ("my_work", "case_list", "person", "search"):
            assert result[f"{page}_requests"] > 0, page
            assert result[f"{page}_p95_ms"] >= result[f"{page}_p50_ms"] > 0
        assert "no peer ran" in result["peer"]
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
