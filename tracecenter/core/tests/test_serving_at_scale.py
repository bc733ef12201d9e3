"""What a state's servers are configured with: a pool of database connections, several web processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "TRACECENTER_ENV", "REDIS_URL", "DB_POOL_MAX_SIZE"}}
    return {**env, "DJANGO_SETTINGS_MODULE": "tracecenter.settings", **extra}


def _database_settings(**extra: str) -> dict[str, object]:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "db = settings.DATABASES['default']; print(json.dumps({'max_age': db['CONN_MAX_AGE'], 'options': db.get('OPTIONS', {})}))"
    )
    run = subprocess.run([sys.executable, "-c", code], env=_env(**extra), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_a_pool_of_connections_replaces_persistent_ones_on_postgresql_when_asked_for():
    url = "postgres://nobody@127.0.0.1:1/none"  # never connected to: only the settings are read
    pooled = _database_settings(DATABASE_URL=url, DB_POOL_MAX_SIZE="8")
    assert pooled == {"max_age": 0, "options": {"pool": {"min_size": 2, "max_size": 8, "timeout": 30}}}
    assert _database_settings(DATABASE_URL=url)["options"] == {}  # none unless asked for
    assert _database_settings(DATABASE_URL=url)["max_age"] == 60


def test_serve_refuses_several_processes_without_redis_or_with_workers_inside():
    for extra, args in (({}, ["--worker", "no"]), ({"REDIS_URL": "redis://127.0.0.1:1/0"}, ["--worker", "yes"])):
        served = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", "1", "--processes", "2", *args],
            env=_env(**extra),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert served.returncode != 0
        assert "--processes above 1 needs REDIS_URL and --worker no" in served.stderr
