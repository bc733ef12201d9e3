"""Making a token: scopes its holder's role can use, a lifetime within API_TOKEN_MAX_DAYS, a clean name; only by
its holder (or the operator's command); revoked by its holder or their administrators. Expired tokens let nobody in.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command

from tracecenter.accounts.roles import Role
from tracecenter.api.models import ApiToken
from tracecenter.api.services import api_token_create, api_token_revoke
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.core import clock
from tracecenter.core.errors import DomainError

from .conftest import ApiClient


def _make(user, **overrides):
    values = {"actor": None, "user": user, "name": "script", "scopes": ["read"], "days": 30, **overrides}
    return api_token_create(**values)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"scopes": []}, "scopes", "at least one scope"),
        ({"scopes": ["", "  "]}, "scopes", "at least one scope"),
        ({"scopes": ["admin"]}, "scopes", "“admin” is not a scope"),
        ({"scopes": ["read", "READ ", "superuser"]}, "scopes", "“superuser” is not a scope"),
        ({"scopes": ["x" * 10_000]}, "scopes", "is not a scope"),
        ({"scopes": ["read", "ingest"]}, "scopes", "cannot use the ingest scope"),  # a tracer does not ingest
        ({"days": None}, "days", "Every API token expires"),
        ({"days": 0}, "days", "at least one day"),
        ({"days": -5}, "days", "at least one day"),
        ({"days": 366}, "days", "at most 365 days"),
        ({"days": 10**12}, "days", "at most 365 days"),
        ({"days": True}, "days", "whole number"),
        ({"days": "30"}, "days", "whole number"),
        ({"name": ""}, "name", "Name the token"),
        ({"name": " \t\n "}, "name", "Name the token"),
        ({"name": "n" * 101}, "name", "at most 100"),
        ({"name": "nightly\x00export"}, "name", "control characters"),
        ({"name": "nightly\u202eexport"}, "name", "control characters"),
        ({"rate_per_minute": 0}, "rate_per_minute", "between 1 and"),
        ({"rate_per_minute": 10**9}, "rate_per_minute", "between 1 and"),
    ],
)
def test_a_token_is_refused_with_the_reason_and_the_field(users, overrides, field, words):
    with pytest.raises(DomainError) as refused:
        _make(users[Role.CONTACT_TRACER], **overrides)
    assert refused.value.field == field
    assert words in refused.value.message
    assert len(refused.value.message) < 300  # an oversized input is not echoed back whole
    assert not ApiToken.objects.exists()


def test_a_token_gets_the_scopes_asked_for_and_expires_when_asked(users):
    token, _raw = _make(users[Role.SUPERVISOR], scopes=["ingest", "read", "read"], days=365, name="  nightly   feed ")
    assert (token.name, token.scopes, token.scope_labels()) == ("nightly feed", "read ingest", ["read", "ingest"])
    assert abs(token.expires_at - (clock.now() + dt.timedelta(days=365))) < dt.timedelta(minutes=1)
    entry = AuditEntry.objects.get(action=Action.CREATE, object_type="api_token")
    assert entry.object_id == str(token.pk) and "scopes read ingest, 365 days" in entry.detail


def test_the_longest_lifetime_is_a_setting(users, settings):
    settings.API_TOKEN_MAX_DAYS = 7
    with pytest.raises(DomainError, match="at most 7 days"):
        _make(users[Role.CASE_INVESTIGATOR], days=8)
    assert _make(users[Role.CASE_INVESTIGATOR], days=7)[0].expires_at <= clock.now() + dt.timedelta(days=7)


def test_roles_without_records_get_no_scope_at_all(users):
    for role in (Role.ADMINISTRATOR, Role.AUDITOR, Role.PRIVACY_OFFICER, Role.WORKFORCE_PLANNER):
        with pytest.raises(DomainError, match="cannot use the read scope"):
            _make(users[role])
    with pytest.raises(DomainError, match="cannot use the write scope"):
        _make(users[Role.EPIDEMIOLOGIST], scopes=["read", "write"])  # epidemiologists read only


def test_nobody_makes_a_token_for_someone_else(users):
    with pytest.raises(PermissionDenied):
        _make(users[Role.CASE_INVESTIGATOR], actor=users[Role.ADMINISTRATOR])
    assert _make(users[Role.CASE_INVESTIGATOR], actor=users[Role.CASE_INVESTIGATOR])[0].pk


def test_a_token_is_revoked_by_its_holder_or_their_administrators_only(users, make_user, county, other_county):
    investigator = users[Role.CASE_INVESTIGATOR]
    token, _raw = _make(investigator)
    for stranger in (users[Role.CONTACT_TRACER], users[Role.SUPERVISOR], make_user(Role.ADMINISTRATOR, other_county)):
        with pytest.raises(PermissionDenied):
            api_token_revoke(actor=stranger, token=token)
    token.refresh_from_db()
    assert not token.revoked
    state_admin = make_user(Role.ADMINISTRATOR, county.parent)
    api_token_revoke(actor=state_admin, token=token)
    token.refresh_from_db()
    assert token.revoked and token.revoked_at is not None
    entry = AuditEntry.objects.get(action=Action.UPDATE, object_type="api_token")
    assert (entry.actor_id, entry.jurisdiction_id) == (state_admin.pk, county.pk)
    assert "revoked by an administrator" in entry.detail


def test_an_expired_token_is_refused_and_audited_like_a_revoked_one(users, county):
    token, raw = _make(users[Role.CASE_INVESTIGATOR], days=1)
    client = ApiClient(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/cases").status_code == 200
    with time_machine.travel(clock.now() + dt.timedelta(days=1, seconds=1)):
        response = client.get("/api/cases")
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    refused = AuditEntry.objects.get(action=Action.LOGIN_FAILED, object_type="api_token")
    assert (refused.object_id, refused.jurisdiction_id) == (str(token.pk), county.pk)
    assert refused.detail.endswith(": expired")
    api_token_revoke(actor=None, token=token)
    client.get("/api/cases")
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED).latest("pk").detail.endswith(": revoked")


def test_the_command_takes_repeated_scopes_days_and_a_rate(users):
    out, err = io.StringIO(), io.StringIO()
    username = users[Role.SUPERVISOR].username
    call_command(
        "api_token_create", username, "--name", "feed", "--scope", "ingest", "--scope", "read", "--days", "7",
        "--rate-per-minute", "30", stdout=out, stderr=err,
    )  # fmt: skip
    token = ApiToken.objects.get(name="feed")
    assert (token.scopes, token.rate_per_minute) == ("read ingest", 30)
    assert token.expires_at <= clock.now() + dt.timedelta(days=7)
    assert "scopes read ingest" in err.getvalue() and out.getvalue().strip() not in err.getvalue()
    for bad, words in (
        (["--scope", "root"], "not a scope"),
        (["--scope", "read", "--days", "0"], "at least one day"),
        (["--scope", "read", "--days", "4000"], "at most 365 days"),
        (["--scope", "read", "--rate-per-minute", "-1"], "between 1 and"),
    ):
        with pytest.raises(CommandError, match=words):
            call_command("api_token_create", username, "--name", "other", *bad, stdout=io.StringIO())
    assert ApiToken.objects.count() == 1
