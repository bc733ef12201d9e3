"""The contact page's actions: status with a reason, call attempts, exposure corrections, reassignment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import RuleSet
from tracecenter.contacts.models import Exposure, ExposureActivity, ExposureStatus
from tracecenter.contacts.services import ExposureInput, exposure_add, exposure_change_status, exposure_update_dates
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput

DAY = dt.timedelta(days=1)


@pytest.fixture
def exposure(users, make_case, county):
    # Specimen three days ago, asymptomatic: infectious from five days ago on.
    case = make_case(county, owner=users[Role.CASE_INVESTIGATOR], days_ago=3)
    found = exposure_add(
        actor=users[Role.CASE_INVESTIGATOR],
        case=case,
        person=PersonInput(first_name="Luis", last_name="Pérez"),
        data=ExposureInput(last_exposure_date=clock.today() - 3 * DAY),
    )
    found.owner = users[Role.CONTACT_TRACER]
    found.save()
    return found


def _url(name, exposure):
    return reverse(f"workspace:{name}", args=[exposure.pk])


def test_a_tracer_changes_the_status_with_a_reason_kept_in_the_history(client: Client, users, exposure):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.post(_url("contact_status", exposure), {"status": "notified", "reason": "Told by phone"})
    assert response.status_code == 302
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NOTIFIED
    entry = ExposureActivity.objects.get(exposure=exposure, kind=ExposureActivity.Kind.STATUS)
    assert entry.note == "Told by phone"
    page = client.get(_url("contact_detail", exposure)).content.decode()
    assert "Told by phone" in page
    assert AuditEntry.objects.filter(object_type="contact", object_id=str(exposure.pk), action="update").exists()


def test_the_status_selector_offers_only_the_allowed_transitions(client: Client, users, exposure):
    client.force_login(users[Role.CONTACT_TRACER])
    page = client.get(_url("contact_detail", exposure)).content.decode()
    assert 'value="notified"' in page
    assert 'value="released"' not in page  # new -> released is not a transition
    response = client.post(_url("contact_status", exposure), {"status": "released", "reason": "x"})
    assert response.status_code == 422
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NEW


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"status": "notified", "reason": ""}, "reason", "This field is required"),
        ({"status": "notified", "reason": "   "}, "reason", "This field is required"),
        ({"status": "notified", "reason": "x" * 301}, "reason", "at most 300 characters"),
        ({"status": "notified", "reason": "ok\u202eevil"}, "reason", "control characters"),
        ({"status": "notified", "reason": "nul\x00"}, "reason", "Null characters are not allowed"),
        ({"status": "<script>", "reason": "ok"}, "status", "Select a valid choice"),
    ],
)
def test_a_bad_status_change_is_refused_with_the_error_on_its_field(client: Client, users, exposure, data, field, message):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.post(_url("contact_status", exposure), data)
    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page
    assert message in page
    assert "<script>" not in page.split("</header>")[-1] or "&lt;script&gt;" in page
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NEW
    assert not ExposureActivity.objects.filter(exposure=exposure).exists()


def test_a_call_attempt_is_recorded_and_a_reached_new_contact_is_notified(client: Client, users, exposure):
    client.force_login(users[Role.CONTACT_TRACER])
    assert client.post(_url("contact_call", exposure), {"outcome": "no_answer"}).status_code == 302
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NEW
    assert client.post(_url("contact_call", exposure), {"outcome": "reached", "note": "Will stay home"}).status_code == 302
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NOTIFIED
    calls = ExposureActivity.objects.filter(exposure=exposure, kind=ExposureActivity.Kind.CALL)
    assert sorted(calls.values_list("outcome", flat=True)) == ["no_answer", "reached"]
    page = client.get(_url("contact_detail", exposure)).content.decode()
    assert "No answer" in page and "Will stay home" in page
    assert AuditEntry.objects.filter(object_id=str(exposure.pk), detail__startswith="call ").count() == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [({"outcome": "hung_up_on"}, "outcome"), ({"outcome": ""}, "outcome"), ({"outcome": "reached", "note": "n" * 2001}, "note")],
)
def test_a_bad_call_attempt_is_refused_on_its_field(client: Client, users, exposure, data, field):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.post(_url("contact_call", exposure), data)
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not ExposureActivity.objects.filter(exposure=exposure).exists()


def test_a_later_last_exposure_moves_the_quarantine_end_by_the_rules(client: Client, users, exposure, county):
    RuleSet.objects.create(jurisdiction=county, effective_from=dt.date(2020, 1, 1), quarantine_days=10)
    client.force_login(users[Role.CONTACT_TRACER])
    later = clock.today() - DAY
    response = client.post(_url("contact_exposure", exposure), {"last_exposure_date": later.isoformat(), "reason": "Met again"})
    assert response.status_code == 302
    exposure.refresh_from_db()
    assert exposure.last_exposure_date == later
    assert exposure.quarantine_end == later + 10 * DAY
    history = ExposureActivity.objects.get(exposure=exposure, kind=ExposureActivity.Kind.EXPOSURE)
    assert later.isoformat() in history.summary and history.note == "Met again"


@pytest.mark.parametrize(
    ("days", "first_days", "field"),
    [(-2, None, "last_exposure_date"), (30, None, "last_exposure_date"), (1, 0, "first_exposure_date")],
)
def test_an_impossible_exposure_is_refused_and_nothing_moves(client: Client, users, exposure, days, first_days, field):
    client.force_login(users[Role.CONTACT_TRACER])
    before = (exposure.last_exposure_date, exposure.quarantine_end)
    data = {"last_exposure_date": (clock.today() - days * DAY).isoformat(), "reason": "typo"}
    if first_days is not None:
        data["first_exposure_date"] = (clock.today() - first_days * DAY).isoformat()
    response = client.post(_url("contact_exposure", exposure), data)
    assert response.status_code == 422
    assert f'id="id_{field}_error"' in response.content.decode()
    exposure.refresh_from_db()
    assert (exposure.last_exposure_date, exposure.quarantine_end) == before


def test_a_malformed_date_is_named(client: Client, users, exposure):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.post(_url("contact_exposure", exposure), {"last_exposure_date": "2024-02-30'; --", "reason": "x"})
    assert response.status_code == 422
    assert 'id="id_last_exposure_date_error"' in response.content.decode()


def test_a_supervisor_reassigns_and_a_tracer_may_not(client: Client, users, exposure, make_user, county, other_county):
    other = make_user(Role.CONTACT_TRACER, county)
    client.force_login(users[Role.CONTACT_TRACER])
    assert client.post(_url("contact_assign", exposure), {"assignee": other.pk}).status_code == 403
    client.force_login(users[Role.SUPERVISOR])
    assert client.post(_url("contact_assign", exposure), {"assignee": other.pk}).status_code == 302
    exposure.refresh_from_db()
    assert exposure.owner == other
    assert AuditEntry.objects.filter(action="assign", object_type="contact", object_id=str(exposure.pk)).exists()
    # Someone of another county is not offered and is refused when sent anyway.
    stranger = make_user(Role.CONTACT_TRACER, other_county)
    response = client.post(_url("contact_assign", exposure), {"assignee": stranger.pk})
    assert response.status_code == 422
    exposure.refresh_from_db()
    assert exposure.owner == other


@pytest.mark.parametrize("assignee", ["abc", "1 OR 1=1", str(10**30), "<script>"])
def test_a_hostile_assignee_is_refused_on_its_field(client: Client, users, exposure, assignee):
    client.force_login(users[Role.SUPERVISOR])
    response = client.post(_url("contact_assign", exposure), {"assignee": assignee})
    assert response.status_code == 422
    assert 'id="id_assignee_error"' in response.content.decode()
    exposure.refresh_from_db()
    assert exposure.owner == users[Role.CONTACT_TRACER]


def test_a_tracer_cannot_act_on_someone_elses_contact(client: Client, users, exposure, make_user, county):
    client.force_login(make_user(Role.CONTACT_TRACER, county))
    for name, data in (("contact_status", {"status": "notified", "reason": "x"}), ("contact_call", {"outcome": "reached"})):
        assert client.post(_url(name, exposure), data).status_code == 404
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NEW
    assert not ExposureActivity.objects.filter(exposure=exposure).exists()


def test_the_services_check_the_policy_per_record(users, exposure, make_user, county):
    stranger = make_user(Role.CONTACT_TRACER, county)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        exposure_change_status(actor=stranger, exposure=exposure, to_status="notified", reason="x")
    with pytest.raises(PermissionDenied):
        exposure_update_dates(
            actor=users[Role.EPIDEMIOLOGIST],  # sees it, may not change it
            exposure=exposure,
            last_exposure_date=exposure.last_exposure_date,
            first_exposure_date=None,
            reason="x",
        )
    assert Exposure.objects.get(pk=exposure.pk).status == ExposureStatus.NEW


def test_a_closed_contact_keeps_its_exposure(users, exposure):
    exposure.status = ExposureStatus.BECAME_CASE
    exposure.save()
    with pytest.raises(DomainError) as refused:
        exposure_update_dates(
            actor=users[Role.CONTACT_TRACER],
            exposure=exposure,
            last_exposure_date=clock.today() - DAY,
            first_exposure_date=None,
            reason="x",
        )
    assert refused.value.field == "last_exposure_date"
