"""Who accessed this person, and what a user accessed: pages and exports for the privacy officer and auditors."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def accessed(client, users, make_case, county):
    """A tracer who opened a case and saw it listed; another case nobody looked at."""
    investigator = users[Role.CASE_INVESTIGATOR]
    case = make_case(county, owner=investigator, first_name="Wanda")
    other = make_case(county, first_name="Other")
    client.force_login(investigator)
    assert client.get(reverse("workspace:my_work")).status_code == 200
    assert client.get(reverse("workspace:case_detail", args=[case.pk])).status_code == 200
    client.logout()
    return case, other, investigator


def test_the_report_on_a_person_lists_every_access_to_them_or_their_records_and_nothing_else(client, users, accessed):
    case, other, investigator = accessed
    client.force_login(users[Role.PRIVACY_OFFICER])
    page = client.get(reverse("workspace:person_access"), {"person": case.person_id})
    assert page.status_code == 200
    entries = list(page.context["page"].object_list)
    seen = {(e.actor_username, e.action, e.object_type, e.object_id) for e in entries}
    assert (investigator.username, "read", "case", str(case.pk)) in seen  # opened, and shown in "my work"
    assert sum(1 for e in entries if e.object_type == "case" and e.detail.startswith("shown in")) == 1
    assert all(e.object_id != str(other.pk) or e.object_type != "case" for e in entries)
    assert "Wanda" not in page.content.decode()  # the report names records by number, never the person
    assert AuditEntry.objects.filter(object_type="access_report", actor_id=users[Role.PRIVACY_OFFICER].pk).exists()


def test_the_report_exports_as_csv_safe_for_spreadsheets_and_the_export_is_audited(client, users, accessed, county):
    case, _other, _investigator = accessed
    audit_record(
        actor=users[Role.CASE_INVESTIGATOR],
        action="read",
        object_type="case",
        object_id=case.pk,
        detail="=HYPERLINK(1)",
        jurisdiction_id=county.pk,
    )
    client.force_login(users[Role.AUDITOR])
    response = client.get(reverse("workspace:person_access"), {"person": case.person_id, "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert rows and {r["object_type"] for r in rows} >= {"case"}
    assert "'=HYPERLINK(1)" in {r["detail"] for r in rows}  # a formula in a cell is neutralised
    assert AuditEntry.objects.filter(action="export", object_type="access_report").exists()


def test_the_report_on_a_user_lists_what_they_did(client, users, accessed):
    _case, _other, investigator = accessed
    client.force_login(users[Role.PRIVACY_OFFICER])
    page = client.get(reverse("workspace:user_access"), {"username": investigator.username.upper()})
    assert page.status_code == 200
    assert {e.actor_username for e in page.context["page"].object_list} == {investigator.username}
    nobody = client.get(reverse("workspace:user_access"), {"username": "nobody-at-all"})
    assert nobody.status_code == 200 and list(nobody.context["page"].object_list) == []


@pytest.mark.parametrize("person", ["abc", "1; DROP TABLE", "9" * 40, "-5", "<script>"])
def test_a_person_number_that_is_not_one_is_refused_clearly(client, users, person):
    client.force_login(users[Role.PRIVACY_OFFICER])
    response = client.get(reverse("workspace:person_access"), {"person": person})
    assert response.status_code == 400 and "Give the person&#x27;s number." in response.content.decode()
    assert "<script>" not in response.content.decode()


def test_workers_cannot_read_who_accessed_whom(client, users, accessed):
    case, _other, _investigator = accessed
    for role in (Role.CASE_INVESTIGATOR, Role.SUPERVISOR, Role.ADMINISTRATOR):
        client.force_login(users[role])
        assert client.get(reverse("workspace:person_access"), {"person": case.person_id}).status_code == 403
