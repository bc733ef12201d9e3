"""Single sign-on's settings, read from the environment as a deployment gives them (a fresh process each)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
_SHOW = """
import django, json; django.setup()
from django.conf import settings
from tracecenter.accounts import sso
print(json.dumps({
    "enabled": sso.enabled(), "issuer": settings.OIDC_ISSUER, "secret": settings.OIDC_RP_CLIENT_SECRET,
    "role_map": settings.OIDC_ROLE_MAP, "local": settings.LOCAL_SIGN_IN, "amr": settings.OIDC_REQUIRED_AMR,
    "form_action": [str(v) for v in settings.SECURE_CSP["form-action"]],
    "backends": settings.AUTHENTICATION_BACKENDS, "pkce": settings.OIDC_USE_PKCE,
}))
"""


def settings_with(**env: str) -> subprocess.CompletedProcess[str]:
    dropped = {"LOCAL_SIGN_IN", "DJANGO_SETTINGS_MODULE"}
    base = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_") and k not in dropped}
    return subprocess.run(
        [sys.executable, "-c", _SHOW],
        env={**base, "DJANGO_SETTINGS_MODULE": "tracecenter.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_single_sign_on_is_off_unless_configured():
    shown = json.loads(settings_with().stdout)
    assert shown["enabled"] is False and shown["local"] is True
    assert shown["form_action"] == ["'self'"]


def test_a_configured_provider_from_the_environment_with_its_secret_from_a_file(tmp_path):
    secret = tmp_path / "oidc-secret"
    secret.write_text("from-the-secrets-manager\n")
    shown = json.loads(
        settings_with(
            OIDC_ISSUER="https://id.example.gov/realms/health",
            OIDC_CLIENT_ID="tracecenter",
            OIDC_CLIENT_SECRET_FILE=str(secret),
            OIDC_ROLE_MAP='{"tc-tracers": "contact_tracer"}',
            OIDC_REQUIRED_AMR="mfa",
            LOCAL_SIGN_IN="false",
        ).stdout
    )
    assert shown["enabled"] is True and shown["local"] is False and shown["pkce"] is True
    assert shown["secret"] == "from-the-secrets-manager" and shown["amr"] == "mfa"
    assert shown["role_map"] == {"tc-tracers": "contact_tracer"}
    # The sign-out form may lead the browser to the provider's end_session_endpoint (RP-initiated logout).
    assert shown["form_action"] == ["'self'", "https://id.example.gov"]
    assert shown["backends"][-1] == "tracecenter.accounts.sso.SsoBackend"


def test_local_sign_in_cannot_be_turned_off_without_single_sign_on():
    result = settings_with(LOCAL_SIGN_IN="false")
    assert result.returncode != 0
    assert "LOCAL_SIGN_IN=false needs single sign-on: set OIDC_ISSUER and OIDC_CLIENT_ID." in result.stderr


def test_a_role_map_that_is_not_json_is_named():
    result = settings_with(OIDC_ISSUER="https://id.example.gov", OIDC_CLIENT_ID="tc", OIDC_ROLE_MAP="{tc-tracers: tracer}")
    assert result.returncode != 0 and "OIDC_ROLE_MAP must be a JSON object" in result.stderr
