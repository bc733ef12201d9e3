"""Debug pages only when asked for, and then only on this machine."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "TRACECENTER_ENV", "DJANGO_SETTINGS_MODULE"}}
    return {**env, "DJANGO_SETTINGS_MODULE": "tracecenter.settings", **extra}


def debug_with(**extra: str) -> subprocess.CompletedProcess[str]:
    code = "import django; django.setup(); from django.conf import settings; print('DEBUG', settings.DEBUG)"
    return subprocess.run([sys.executable, "-c", code], env=_env(**extra), cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_debug_is_off_unless_asked_for():
    assert "DEBUG False" in debug_with().stdout
    assert "DEBUG False" in debug_with(TRACECENTER_ENV="local").stdout
    assert "DEBUG True" in debug_with(DEBUG="true").stdout


def test_debug_is_refused_in_production():
    production = debug_with(
        TRACECENTER_ENV="production",
        DEBUG="true",
        SECRET_KEY="x" * 50,
        FIELD_ENCRYPTION_KEYS="k1:" + "A" * 43 + "=",
        BLIND_INDEX_KEY="A" * 44,
        AUDIT_CHAIN_KEY="A" * 44,
        DATABASE_URL="postgres://nobody@127.0.0.1:1/none",
    )
    assert production.returncode != 0 and "DEBUG must be off" in production.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "tracecenter.example.org"])  # noqa: S104 -- refused
def test_with_debug_on_serve_refuses_to_bind_beyond_loopback(host):
    served = subprocess.run(
        [sys.executable, "manage.py", "serve", "--host", host, "--port", str(_free_port()), "--worker", "no"],
        env=_env(DEBUG="true"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert served.returncode != 0
    assert "DEBUG is on: refusing to serve" in served.stderr


HOSTS = [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("[::1]", True), ("localhost", True)]
HOSTS += [("0.0.0.0", False), ("::", False), ("10.0.0.5", False), ("example.org", False)]  # noqa: S104 -- not loopback


@pytest.mark.parametrize(("host", "loopback"), HOSTS)
def test_which_addresses_are_this_machine_only(host, loopback):
    from tracecenter.core.management.commands.serve import is_loopback

    assert is_loopback(host) is loopback


def test_make_run_asks_for_debug_for_the_laptop_server():
    recipe = re.search(r"^run:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.S | re.M)
    assert recipe is not None
    assert re.search(r"DEBUG=\$\$\{DEBUG:-true\} \$\(PY\) manage.py serve", recipe.group(0))
