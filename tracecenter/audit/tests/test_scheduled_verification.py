"""The scheduled verification of the whole trail: a break is kept, audited, failed on the System page and shown to auditors."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD
from tracecenter.accounts.roles import Role
from tracecenter.audit import jobs
from tracecenter.audit.models import Action, AuditCheck, AuditEntry
from tracecenter.audit.services import AuditChainBroken, audit_record, seal_all
from tracecenter.audit.tests.test_audit import raw_sql
from tracecenter.core.schedule import jobs as declared_jobs


@pytest.fixture
def sealed(db, users):
    actor = users[Role.CASE_INVESTIGATOR]
    for n in range(10):
        audit_record(actor=actor, action=Action.READ, object_type="case", object_id=n, jurisdiction_id=actor.jurisdiction_id)
    seal_all()
    return list(AuditEntry.objects.order_by("seq"))


def _audit_page(user) -> str:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    response = client.get(reverse("workspace:audit_log"))
    assert response.status_code == 200
    return response.content.decode()


def test_the_verification_is_a_declared_periodic_job():
    assert "audit.verify" in declared_jobs()


def test_a_sound_trail_is_recorded_as_verified(sealed, users):
    jobs.verify()
    check = AuditCheck.objects.get()
    assert check.ok and check.problems == 0 and check.checked >= len(sealed)
    assert not AuditEntry.objects.filter(action=Action.INTEGRITY).exists()
    assert "Last verified" in _audit_page(users[Role.AUDITOR])


def test_a_changed_entry_fails_the_job_is_audited_and_shown_to_auditors(sealed, users):
    target = sealed[4]
    raw_sql("UPDATE audit_auditentry SET detail = %s WHERE id = %s", ["nothing to see", target.pk])

    with pytest.raises(AuditChainBroken):
        jobs.verify()

    check = AuditCheck.objects.get()
    assert not check.ok and check.problems >= 1
    assert f"seq {target.seq}" in check.first_problem or str(target.pk) in check.first_problem
    alert = AuditEntry.objects.get(action=Action.INTEGRITY)
    assert alert.object_type == "audit_check" and alert.object_id == str(check.pk)
    page = _audit_page(users[Role.AUDITOR])
    assert "was found broken" in page and check.first_problem in page
    # The next verification that finds it sound again (entries restored from a backup) clears the banner.
    raw_sql("UPDATE audit_auditentry SET detail = %s WHERE id = %s", [target.detail, target.pk])
    jobs.verify()
    assert "was found broken" not in _audit_page(users[Role.AUDITOR])  # the banner (the action filter names the action)
