"""Sessions with CSRF, personal tokens, the token commands, the schema and the docs."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from tracecenter.accounts.roles import Role
from tracecenter.api.models import ApiToken
from tracecenter.api.services import api_token_create, api_token_revoke, hash_token
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock

from .conftest import ApiClient


def test_the_schema_needs_a_signed_in_user_or_a_token(users, session_client, token_client):
    anonymous = Client().get("/api/schema")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"].startswith("Bearer")
    assert "paths" not in anonymous.json()
    assert Client(headers={"Authorization": "Bearer tc_wrong"}).get("/api/schema").status_code == 401
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED, object_type="api_token").count() == 1
    assert token_client(users[Role.CONTACT_TRACER]).get("/api/schema").status_code == 200
    response = session_client(users[Role.EPIDEMIOLOGIST]).get("/api/schema")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/cases/{case_id}/contacts" in schema["paths"]
    assert set(schema["components"]["securitySchemes"]) == {"BearerTokenAuth", "SessionAuth"}


def test_the_docs_need_a_signed_in_user_and_load_nothing_from_elsewhere(users, session_client):
    assert Client().get("/api/docs").status_code == 302
    page = session_client(users[Role.EPIDEMIOLOGIST]).get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "cdn" not in html and "<script>" not in html
    asset = Client().get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert Client().get("/api/docs/assets/..%2Fsettings.py").status_code == 404
    assert Client().get("/api/docs/assets/redoc.standalone.js.map").status_code == 404


@pytest.mark.parametrize("path", ["/api/cases", "/api/persons", "/api/contacts", "/api/lab-results", "/api/cases/1"])
def test_without_credentials_every_endpoint_is_401(db, path):
    response = Client().get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_personal_token_works(world, users, token_client):
    client = token_client(users[Role.CASE_INVESTIGATOR])
    response = client.get("/api/cases")
    assert response.status_code == 200
    assert [c["id"] for c in response.json()["items"]] == [world.mine.pk]
    token = ApiToken.objects.get(user=users[Role.CASE_INVESTIGATOR])
    assert token.last_used_at is not None


def test_a_token_needs_no_csrf_for_writes(world, users, token_client):
    client = token_client(users[Role.CASE_INVESTIGATOR])
    client.enforce_csrf_checks = True  # type: ignore[attr-defined]
    response = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "First call"})
    assert response.status_code == 200, response.content


def test_the_token_is_stored_only_as_its_hash(users):
    token, raw = api_token_create(actor=None, user=users[Role.SUPERVISOR], name="script", scopes=["read"], days=30)
    assert raw.startswith("tc_") and len(raw) > 40
    assert token.token_hash == hash_token(raw) and raw not in token.token_hash
    assert not ApiToken.objects.filter(token_hash=raw).exists()


def _status(raw: str, path: str = "/api/cases") -> int:
    return ApiClient(headers={"Authorization": f"Bearer {raw}"}).get(path).status_code


def test_a_revoked_expired_or_wrong_token_is_401(users):
    user = users[Role.CASE_INVESTIGATOR]
    revoked, raw_revoked = api_token_create(actor=None, user=user, name="old", scopes=["read"], days=30)
    api_token_revoke(actor=None, token=revoked)
    _short, raw_short = api_token_create(actor=None, user=user, name="short", scopes=["read"], days=1)
    _good, raw_good = api_token_create(actor=None, user=user, name="good", scopes=["read"], days=30)
    assert _status(raw_good) == 200
    assert _status(raw_revoked) == 401
    assert _status(raw_good[:-2] + "xx") == 401
    assert _status("") == 401
    assert _status("tc_" + "a" * 5000) == 401
    with time_machine.travel(clock.now() + dt.timedelta(days=2)):
        assert _status(raw_short) == 401
        assert _status(raw_good) == 200
    failed = AuditEntry.objects.filter(action=Action.LOGIN_FAILED, object_type="api_token")
    assert failed.count() == 5  # revoked, altered, empty, too long, expired
    assert not any(raw_revoked in (e.detail + e.object_id) for e in failed)


def test_a_bad_bearer_token_does_not_fall_back_to_the_session(users, session_client):
    client = session_client(users[Role.EPIDEMIOLOGIST])
    assert client.get("/api/cases").status_code == 200
    assert client.get("/api/cases", headers={"Authorization": "Bearer tc_wrong"}).status_code == 401


def test_a_token_of_a_deactivated_user_is_401(users):
    user = users[Role.SUPERVISOR]
    _token, raw = api_token_create(actor=None, user=user, name="x", scopes=["read"], days=30)
    user.is_active = False
    user.save()
    assert _status(raw) == 401


def test_a_session_needs_the_csrf_token_for_writes(world, users):
    client = ApiClient(enforce_csrf_checks=True)
    client.force_login(users[Role.CASE_INVESTIGATOR])
    assert client.get("/api/cases").status_code == 200  # reads need none
    url = f"/api/cases/{world.mine.pk}/status"
    refused = client.post_json(url, {"status": "attempting", "reason": "First call"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    world.mine.refresh_from_db()
    assert world.mine.status == "new"
    client.get("/api/docs")  # sets the CSRF cookie, as a page of the site would
    token = client.cookies["csrftoken"].value
    accepted = client.post_json(url, {"status": "attempting", "reason": "First call"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200, accepted.content


def test_the_command_prints_a_working_token_once(users):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_token_create",
        users[Role.EPIDEMIOLOGIST].username,
        "--name",
        "nightly export",
        "--scope",
        "read",
        stdout=out,
        stderr=err,
    )
    raw = out.getvalue().strip()
    assert _status(raw) == 200
    token = ApiToken.objects.get(name="nightly export")
    assert token.expires_at is not None and token.expires_at > clock.now() + dt.timedelta(days=89)
    assert raw not in err.getvalue()
    with pytest.raises(CommandError):
        call_command(
            "api_token_create",
            users[Role.EPIDEMIOLOGIST].username,
            "--name",
            "nightly export",
            "--scope",
            "read",
            stdout=io.StringIO(),
        )
    with pytest.raises(CommandError):
        call_command("api_token_create", "nobody", "--name", "x", "--scope", "read", stdout=io.StringIO())
    call_command("api_token_revoke", users[Role.EPIDEMIOLOGIST].username, "--name", "nightly export", stdout=io.StringIO())
    assert _status(raw) == 401


def test_the_command_refuses_a_token_without_expiry_or_scopes(users):
    username = users[Role.SUPERVISOR].username
    with pytest.raises(CommandError, match="Every API token expires"):
        call_command("api_token_create", username, "--name", "feed", "--scope", "read", "--no-expiry", stdout=io.StringIO())
    with pytest.raises(CommandError, match="scopes"):
        call_command("api_token_create", username, "--name", "feed", stdout=io.StringIO())
    assert not ApiToken.objects.filter(name="feed").exists()
