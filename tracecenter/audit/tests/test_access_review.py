"""The periodic access review: who can do what and what they did; accounts left unused stop working."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.models import User
from tracecenter.accounts.roles import Role
from tracecenter.accounts.services import users_disable_unused
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, schedule

pytestmark = pytest.mark.django_db


def test_the_review_lists_the_accounts_in_scope_with_their_recent_reads_and_refusals(client, users, make_user, other_county):
    tracer = users[Role.CONTACT_TRACER]
    for n in range(3):
        audit_record(actor=tracer, action=Action.READ, object_type="case", object_id=n)
    audit_record(actor=tracer, action=Action.DENIED, object_type="case", object_id=99)
    elsewhere = make_user(Role.CONTACT_TRACER, other_county, username="tracer.south")
    client.force_login(users[Role.PRIVACY_OFFICER])
    page = client.get(reverse("workspace:access_review"))
    assert page.status_code == 200
    rows = {u.username: u for u in page.context["page"].object_list}
    assert (rows[tracer.username].reads, rows[tracer.username].refusals) == (3, 1)
    assert elsewhere.username not in rows  # another county's accounts are that county's review
    assert AuditEntry.objects.filter(object_type="access_review", actor_id=users[Role.PRIVACY_OFFICER].pk).exists()


def test_accounts_unused_for_the_period_are_deactivated_their_sessions_ended_and_audited(users, make_user, county):
    stale = make_user(Role.CONTACT_TRACER, county, username="stale")
    never = make_user(Role.CONTACT_TRACER, county, username="never")
    Client().force_login(stale)  # a session still open (signing in sets last_login: set back below)
    User.objects.filter(pk=stale.pk).update(last_login=clock.now() - dt.timedelta(days=120))
    User.objects.filter(pk=never.pk).update(date_joined=clock.now() - dt.timedelta(days=120))
    fresh = users[Role.SUPERVISOR]
    User.objects.filter(pk=fresh.pk).update(last_login=clock.now() - dt.timedelta(days=3))

    assert sorted(users_disable_unused(days=90)) == sorted([stale.pk, never.pk])
    assert not User.objects.get(pk=stale.pk).is_active and not User.objects.get(pk=never.pk).is_active
    assert User.objects.get(pk=fresh.pk).is_active
    assert not [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(stale.pk)]
    assert AuditEntry.objects.filter(
        object_type="user", object_id=str(stale.pk), detail__contains="not used for 90 days"
    ).exists()
    assert users_disable_unused(days=90) == []  # nothing more


def test_the_deactivation_of_unused_accounts_is_a_periodic_job():
    assert "accounts.disable_unused" in schedule.jobs()
