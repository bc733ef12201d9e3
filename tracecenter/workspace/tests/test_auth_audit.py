"""Refusals, failed sign-ins and sign-outs reach the auditors of the jurisdiction they concern."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.api.services import api_token_create, api_token_revoke
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.audit.selectors import audit_entries_visible_to

PASSWORD = "correct-horse-battery-staple"


def seen_by(auditor) -> list[AuditEntry]:
    return list(audit_entries_visible_to(auditor).exclude(actor_id=auditor.pk))


def test_a_refusal_is_in_the_trail_of_the_refused_users_jurisdiction(client, users, county):
    tracer = users[Role.CONTACT_TRACER]
    client.force_login(tracer)
    assert client.get(reverse("workspace:audit_log")).status_code == 403

    denied = AuditEntry.objects.get(action=Action.DENIED, actor_id=tracer.pk)
    assert denied.jurisdiction_id == county.pk
    assert denied in seen_by(users[Role.AUDITOR])


def test_a_failed_sign_in_names_the_account_and_reaches_its_jurisdictions_auditors(client, users, county):
    tracer = users[Role.CONTACT_TRACER]
    client.post("/accounts/login/", {"username": tracer.username, "password": "wrong"})

    failed = AuditEntry.objects.get(action=Action.LOGIN_FAILED)
    assert (failed.object_type, failed.object_id, failed.jurisdiction_id) == ("user", str(tracer.pk), county.pk)
    assert f"username typed: {tracer.username}" in failed.detail
    assert "wrong" not in failed.detail
    assert failed in seen_by(users[Role.AUDITOR])


def _without_csrf(html: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_a_failed_sign_in_answers_the_same_whether_the_account_exists(client, users, make_user, state):
    tracer = users[Role.CONTACT_TRACER]
    known = client.post("/accounts/login/", {"username": tracer.username, "password": "wrong"})
    unknown = Client().post("/accounts/login/", {"username": "nobody-by-this-name", "password": "wrong"})
    assert known.status_code == unknown.status_code == 200
    echoed = _without_csrf(unknown.content.decode()).replace("nobody-by-this-name", tracer.username)
    assert _without_csrf(known.content.decode()) == echoed

    # The trail knows the difference: the unknown name is kept, as typed, truncated, for the top-level auditors.
    long_name = "x" * 60 + "\u202e"
    Client().post("/accounts/login/", {"username": long_name, "password": "wrong"})
    entries = {e.detail.rsplit(": ", 1)[1]: e for e in AuditEntry.objects.filter(action=Action.LOGIN_FAILED)}
    assert entries["nobody-by-this-name"].jurisdiction_id is None and entries["nobody-by-this-name"].object_id == ""
    assert "x" * 40 + "…" in entries
    state_auditor = make_user(Role.AUDITOR, state)
    assert entries["nobody-by-this-name"] in seen_by(state_auditor)
    assert entries["nobody-by-this-name"] not in seen_by(users[Role.AUDITOR])  # a county's auditor: not theirs


def test_an_attempt_refused_during_a_lock_out_is_audited(client, users, county):
    tracer = users[Role.CONTACT_TRACER]
    for _ in range(5):
        client.post("/accounts/login/", {"username": tracer.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": tracer.username, "password": PASSWORD})
    assert "Too many failed attempts" in response.content.decode()

    refused = AuditEntry.objects.filter(action=Action.LOGIN_FAILED).order_by("pk").last()
    assert refused is not None and refused.detail.startswith("refused during a lock-out")
    assert (refused.object_id, refused.jurisdiction_id) == (str(tracer.pk), county.pk)
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED).count() == 6


def test_a_sign_out_carries_the_users_jurisdiction(client, users, county):
    supervisor = users[Role.SUPERVISOR]
    client.post("/accounts/login/", {"username": supervisor.username, "password": PASSWORD})
    client.post("/accounts/logout/")
    entries = {e.action: e for e in AuditEntry.objects.filter(actor_id=supervisor.pk)}
    assert entries[Action.LOGOUT].jurisdiction_id == county.pk
    assert entries[Action.LOGOUT] in seen_by(users[Role.AUDITOR])


def test_a_refused_api_token_that_was_once_good_names_its_holder_for_their_auditors(users, county):
    investigator = users[Role.CASE_INVESTIGATOR]
    token, raw = api_token_create(actor=None, user=investigator, name="old", scopes=["read"], days=30)
    api_token_revoke(actor=None, token=token)
    assert Client(headers={"Authorization": f"Bearer {raw}"}).get("/api/cases").status_code == 401

    refused = AuditEntry.objects.get(action=Action.LOGIN_FAILED, object_type="api_token")
    assert (refused.object_id, refused.jurisdiction_id) == (str(token.pk), county.pk)
    assert raw not in refused.detail
    assert refused in seen_by(users[Role.AUDITOR])
