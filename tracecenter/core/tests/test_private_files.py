"""The embedded default's folder, keys and database are readable by their owner only, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

START = """
import os
os.umask(0o022)  # a common umask: files 0644, folders 0755 unless asked otherwise
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE IF NOT EXISTS t (x integer)")
    cursor.execute("INSERT INTO t VALUES (1)")
print("started")
"""


def start_embedded_default(var: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TRACECENTER_ENV"}}
    env |= {"TRACECENTER_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "tracecenter.settings"}
    done = subprocess.run([sys.executable, "-c", START], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "started" in done.stdout, done.stderr


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_var_folder_keys_and_database_are_the_owners_only(tmp_path):
    var = tmp_path / "fresh" / "var"
    start_embedded_default(var)
    assert mode(var) == 0o700
    assert mode(var / "local-secrets.json") == 0o600
    assert mode(var / "tracecenter.sqlite3") == 0o600
    for companion in ("tracecenter.sqlite3-wal", "tracecenter.sqlite3-shm"):
        if (var / companion).exists():
            assert mode(var / companion) == 0o600, companion


def test_a_var_folder_left_readable_by_an_earlier_version_is_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    database = var / "tracecenter.sqlite3"
    database.touch()
    database.chmod(0o644)
    start_embedded_default(var)
    assert (mode(var), mode(database)) == (0o700, 0o600)
