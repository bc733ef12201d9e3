"""My work: the order and its reasons, due and overdue, finished work apart, filters, caseload, bulk assignment."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import Exposure, ExposureStatus
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.people.services import PersonInput

DAY = dt.timedelta(days=1)


@pytest.fixture
def tracer(users):
    return users[Role.CONTACT_TRACER]


def _contact(case, actor, first="Luis", owner=None):
    exposure = exposure_add(
        actor=actor,
        case=case,
        person=PersonInput(first_name=first, last_name="Pérez"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    exposure.owner = owner or actor
    exposure.save()
    return exposure


def _rows(html: str, section: str) -> list[str]:
    body = html.split(f'id="{section}"')[1].split("</table>")[0]
    return re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)[1:]


def test_each_item_says_why_it_is_first_and_overdue_work_comes_first(client: Client, tracer, make_case, county):
    fresh = make_case(county, owner=tracer, days_ago=2, first_name="Fresh")
    late = make_case(county, owner=tracer, days_ago=9, first_name="Late")
    Case.objects.filter(pk=late.pk).update(opened_at=clock.now() - 4 * DAY)
    client.force_login(tracer)
    page = client.get(reverse("workspace:my_work")).content.decode()
    rows = _rows(page, "live-cases")
    assert f"Case {late.pk}" in rows[0] and f"Case {fresh.pk}" in rows[1]
    due = (clock.today() - 3 * DAY).isoformat()
    assert f"overdue since {due}" in rows[0]
    assert "Overdue" in rows[0] and 'class="overdue"' in page
    assert "new positive, specimen 2 days ago" in rows[1]


def test_a_new_contact_says_it_is_not_yet_notified(client: Client, tracer, make_case, county):
    case = make_case(county, owner=tracer)
    exposure = _contact(case, tracer)
    client.force_login(tracer)
    rows = _rows(client.get(reverse("workspace:my_work")).content.decode(), "live-contacts")
    assert f"Contact {exposure.pk}" in rows[0]
    assert "new contact, not yet notified, last exposed 2 days ago" in rows[0]


def test_finished_work_is_listed_apart(client: Client, tracer, make_case, county):
    case = make_case(county, owner=tracer)
    done = _contact(case, tracer, first="Done")
    Exposure.objects.filter(pk=done.pk).update(status=ExposureStatus.RELEASED)
    active = _contact(case, tracer, first="Active")
    client.force_login(tracer)
    page = client.get(reverse("workspace:my_work")).content.decode()
    contacts = "".join(_rows(page, "live-contacts"))
    assert f"Contact {active.pk}<" in contacts and f"Contact {done.pk}<" not in contacts
    finished = page.split('id="finished"')[1]
    assert f"Contact {done.pk}</a>: Released from quarantine" in finished


def test_filters_narrow_the_lists_and_keep_names_out_of_addresses(client: Client, tracer, make_case, county):
    interviewed = make_case(county, owner=tracer, first_name="Wanda")
    Case.objects.filter(pk=interviewed.pk).update(status=CaseStatus.INTERVIEWED)
    other = make_case(county, owner=tracer, first_name="Xavier")
    client.force_login(tracer)
    response = client.get(reverse("workspace:my_work"), {"status": "interviewed", "sort": "newest"})
    assert response.status_code == 200
    cases = "".join(_rows(response.content.decode(), "live-cases"))
    assert f"Case {interviewed.pk}<" in cases and f"Case {other.pk}<" not in cases
    hrefs = " ".join(re.findall(r'(?:href|data-live-part)="([^"]*)"', response.content.decode()))
    assert "Wanda" not in hrefs and "García" not in hrefs and "status=interviewed" in hrefs
    today = clock.today().isoformat()
    response = client.get(reverse("workspace:my_work"), {"date_from": today, "date_to": today})
    assert f"Case {other.pk}<" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "<script>alert(1)</script>"}, "status"),
        ({"date_from": "2024-13-45"}, "date_from"),
        ({"date_from": "' OR 1=1 --"}, "date_from"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
        ({"sort": "person__last_name"}, "sort"),
        ({"jurisdiction": "999999999999999999999"}, "jurisdiction"),
        ({"jurisdiction": "abc"}, "jurisdiction"),
        ({"status": "x" * 10_000}, "status"),
    ],
)
def test_a_bad_filter_is_named_and_the_list_still_shows(client: Client, tracer, make_case, county, query, field):
    case = make_case(county, owner=tracer)
    client.force_login(tracer)
    response = client.get(reverse("workspace:my_work"), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page
    assert "<script>alert(1)</script>" not in page
    assert f"Case {case.pk}<" in page  # unfiltered rather than empty


def test_a_worker_filter_a_supervisor_cannot_choose_is_refused(client: Client, users, make_user, other_county):
    stranger = make_user(Role.CONTACT_TRACER, other_county)
    client.force_login(users[Role.SUPERVISOR])
    response = client.get(reverse("workspace:my_work"), {"worker": stranger.pk})
    assert response.status_code == 400
    assert 'id="id_worker_error"' in response.content.decode()


def test_a_supervisor_sees_the_caseload_per_worker_and_filters_by_worker(client: Client, users, make_case, county, tracer):
    investigator = users[Role.CASE_INVESTIGATOR]
    for _ in range(2):
        make_case(county, owner=investigator)
    case = make_case(county, owner=tracer)
    _contact(case, tracer)
    unassigned = make_case(county)
    client.force_login(users[Role.SUPERVISOR])
    page = client.get(reverse("workspace:my_work")).content.decode()
    load = page.split('id="caseload"')[1].split("</table>")[0]
    rows = {
        re.sub(r"<[^>]+>", "", r.split("</th>")[0]).strip(): re.findall(r"<td>(\d+)</td>", r)
        for r in re.findall(r"<tr>(.*?)</tr>", load, re.S)[1:]
    }
    assert rows[investigator.display_name] == ["2", "0"]
    assert rows[tracer.display_name] == ["1", "1"]
    assert rows["Unassigned"] == ["1", "0"]
    filtered = client.get(reverse("workspace:my_work"), {"worker": "none"}).content.decode()
    queue = "".join(_rows(filtered, "live-queue"))
    assert f"Case {unassigned.pk}<" in queue and f"Case {case.pk}<" not in queue


def test_a_supervisor_assigns_cases_and_contacts_in_bulk_each_audited(
    client: Client, users, make_case, county, tracer, other_county
):
    supervisor = users[Role.SUPERVISOR]
    cases = [make_case(county) for _ in range(3)]
    outside = make_case(other_county)
    client.force_login(supervisor)
    response = client.post(
        reverse("workspace:bulk_assign"), {"kind": "cases", "ids": [c.pk for c in cases] + [outside.pk], "assignee": tracer.pk}
    )
    assert response.status_code == 302
    assert set(Case.objects.filter(owner=tracer).values_list("pk", flat=True)) == {c.pk for c in cases}
    assert Case.objects.get(pk=outside.pk).owner is None
    assigned = AuditEntry.objects.filter(action="assign", object_type="case", actor_id=supervisor.pk)
    assert sorted(assigned.values_list("object_id", flat=True)) == sorted(str(c.pk) for c in cases)
    assert AuditEntry.objects.filter(action="denied", object_type="case", object_id=str(outside.pk)).exists()
    contacts = [_contact(cases[0], supervisor, first=f"C{i}", owner=None) for i in range(2)]
    Exposure.objects.filter(pk__in=[e.pk for e in contacts]).update(owner=None)
    response = client.post(
        reverse("workspace:bulk_assign"), {"kind": "contacts", "ids": [e.pk for e in contacts], "assignee": tracer.pk}
    )
    assert response.status_code == 302
    assert Exposure.objects.filter(owner=tracer, pk__in=[e.pk for e in contacts]).count() == 2
    assert AuditEntry.objects.filter(action="assign", object_type="contact").count() == 2


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "cases", "ids": ["1 OR 1=1"]},
        {"kind": "cases", "ids": [str(10**30)]},
        {"kind": "cases", "ids": ["-4"]},
        {"kind": "cases", "ids": [str(i) for i in range(1, 300)]},
        {"kind": "cases"},
        {"kind": "persons", "ids": ["1"]},
        {"kind": "cases", "ids": ["1"], "assignee": "not-a-user"},
    ],
)
def test_bulk_assignment_refuses_hostile_input_and_assigns_nothing(client: Client, users, make_case, county, data):
    case = make_case(county)
    client.force_login(users[Role.SUPERVISOR])
    response = client.post(reverse("workspace:bulk_assign"), data, follow=True)
    assert response.status_code == 200
    assert "Nothing was assigned" in response.content.decode()
    assert Case.objects.get(pk=case.pk).owner is None


def test_a_worker_cannot_assign_in_bulk(client: Client, tracer, make_case, county):
    case = make_case(county)
    client.force_login(tracer)
    response = client.post(reverse("workspace:bulk_assign"), {"kind": "cases", "ids": [case.pk], "assignee": tracer.pk})
    assert response.status_code == 403
    assert Case.objects.get(pk=case.pk).owner is None


def test_the_supervisors_page_costs_the_same_queries_for_3_cases_and_contacts_as_for_9(
    client: Client, users, make_case, county, tracer
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def cost() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("workspace:my_work")).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for i in range(n):
            case = make_case(county, owner=tracer if i % 2 else None, first_name=f"N{i}")
            _contact(case, tracer, first=f"K{i}")

    client.force_login(users[Role.SUPERVISOR])
    add(3)
    few = cost()
    add(6)
    assert cost() == few
