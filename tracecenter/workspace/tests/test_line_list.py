"""Line lists: who may download them, which rows and columns, the audit, formula injection, both formats."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.people.services import PersonInput
from tracecenter.workspace.line_list import neutralise

URL = "workspace:line_list"


def _csv(response) -> list[dict[str, str]]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def cases(make_case, county, other_county, users):
    mine = [make_case(county, owner=users[Role.CASE_INVESTIGATOR], first_name=name) for name in ("=HYPERLINK(1)", "Ana", "+Ola")]
    outside = make_case(other_county, first_name="Faraway")
    return {"mine": mine, "outside": outside}


def test_a_supervisor_downloads_the_cases_they_may_see_with_names_and_one_audit_entry_each(client: Client, users, cases):
    supervisor = users[Role.SUPERVISOR]
    client.force_login(supervisor)
    response = client.get(reverse(URL), {"kind": "cases", "format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert sorted(int(r["case_id"]) for r in rows) == sorted(c.pk for c in cases["mine"])
    assert "Faraway" not in str(rows)
    names = {r["first_name"] for r in rows}
    assert names == {"'=HYPERLINK(1)", "Ana", "'+Ola"}  # formulas neutralised
    exported = AuditEntry.objects.filter(action="export", object_type="case", actor_id=supervisor.pk)
    assert sorted(exported.values_list("object_id", flat=True)) == sorted(str(c.pk) for c in cases["mine"])


def test_an_epidemiologist_gets_no_identifying_columns(client: Client, users, cases):
    client.force_login(users[Role.EPIDEMIOLOGIST])
    rows = _csv(client.get(reverse(URL), {"kind": "cases", "format": "csv"}))
    assert len(rows) == 3
    assert {"first_name", "last_name", "date_of_birth", "phone", "street"}.isdisjoint(rows[0])
    assert {"case_id", "age_years", "postal_code", "status"} <= set(rows[0])
    assert "Ana" not in str(rows)


def test_the_excel_workbook_holds_the_same_rows_as_text_never_formulas(client: Client, users, cases):
    from openpyxl import load_workbook

    client.force_login(users[Role.SUPERVISOR])
    response = client.get(reverse(URL), {"kind": "cases", "format": "xlsx"})
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = book.active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    first = header.index("first_name")
    assert sorted(str(r[first]) for r in rows[1:]) == sorted(["'=HYPERLINK(1)", "Ana", "'+Ola"])
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_contacts_are_exported_too(client: Client, users, cases):
    case = cases["mine"][1]
    exposure_add(
        actor=users[Role.CASE_INVESTIGATOR],
        case=case,
        person=PersonInput(first_name="@SUM(A1)", last_name="Reyes"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    client.force_login(users[Role.SUPERVISOR])
    rows = _csv(client.get(reverse(URL), {"kind": "contacts", "format": "csv"}))
    assert [r["first_name"] for r in rows] == ["'@SUM(A1)"]
    assert rows[0]["case_id"] == str(case.pk)
    assert AuditEntry.objects.filter(action="export", object_type="contact").count() == 1


def test_the_filters_narrow_the_list(client: Client, users, cases):
    Case.objects.filter(pk=cases["mine"][0].pk).update(status="interviewed")
    client.force_login(users[Role.SUPERVISOR])
    rows = _csv(client.get(reverse(URL), {"kind": "cases", "format": "csv", "status": "interviewed"}))
    assert [int(r["case_id"]) for r in rows] == [cases["mine"][0].pk]


@pytest.mark.parametrize(
    "query",
    [
        {"kind": "persons", "format": "csv"},
        {"kind": "cases", "format": "pdf"},
        {"kind": "cases", "format": "csv", "status": "'; DROP TABLE cases_case; --"},
        {"kind": "cases", "format": "csv", "date_from": "yesterday"},
        {"kind": "cases", "format": "csv", "jurisdiction": "-1"},
    ],
)
def test_bad_requests_are_named_and_export_nothing(client: Client, users, cases, query):
    client.force_login(users[Role.SUPERVISOR])
    response = client.get(reverse(URL), query)
    assert response.status_code == 400
    assert not AuditEntry.objects.filter(action="export").exists()


@pytest.mark.parametrize("role", [Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.AUDITOR, Role.ADMINISTRATOR])
def test_roles_that_do_not_export_are_refused_and_audited(client: Client, users, cases, role):
    client.force_login(users[role])
    assert client.get(reverse(URL), {"kind": "cases", "format": "csv"}).status_code == 403
    assert AuditEntry.objects.filter(action="denied", actor_id=users[role].pk, object_type="line_list").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1 617 555", "'+1 617 555"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        (5, 5),
        (None, None),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


def test_a_long_list_is_streamed_a_chunk_at_a_time_each_audited_before_it_leaves(client: Client, users, cases, monkeypatch):
    from tracecenter.workspace import line_list

    monkeypatch.setattr(line_list, "CHUNK", 2)  # three records: a chunk of two, then one
    client.force_login(users[Role.SUPERVISOR])
    response = client.get(reverse(URL), {"kind": "cases", "format": "csv"})
    parts = iter(response.streaming_content)
    assert next(parts).startswith(b"case_id,")
    assert not AuditEntry.objects.filter(action="export").exists()  # nothing has left yet
    assert next(parts).count(b"\n") == 2
    assert AuditEntry.objects.filter(action="export").count() == 2
    assert next(parts).count(b"\n") == 1
    assert AuditEntry.objects.filter(action="export").count() == 3
