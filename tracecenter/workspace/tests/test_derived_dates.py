"""The live infectious-period line: the dates, or why they cannot be computed."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.cases.services import case_open
from tracecenter.core import clock


@pytest.fixture
def undated_case(users, make_person, county):
    """A case opened by hand before any result: nothing to count its dates from yet."""
    case = case_open(actor=None, person=make_person(county), specimen_collection_date=None)
    case.owner = users[Role.CONTACT_TRACER]
    case.save()
    return case


def _derived(client, case, **data: str):
    return client.post(reverse("workspace:derived_dates", args=[case.pk]), {f"case-{k}": v for k, v in data.items()})


NEEDS = "Cannot compute: A case needs a symptom onset date or a specimen collection date."


def test_without_onset_or_specimen_the_line_says_what_it_needs(client, users, undated_case):
    client.force_login(users[Role.CONTACT_TRACER])
    response = _derived(client, undated_case, symptom_onset="")
    assert response.status_code == 422
    assert response.json() == {"error": NEEDS, "field": "symptom_onset"}
    assert _derived(client, undated_case, asymptomatic="on").json()["error"] == NEEDS


def test_the_interview_page_says_why_there_are_no_dates_yet(client, users, undated_case):
    client.force_login(users[Role.CONTACT_TRACER])
    page = client.get(reverse("workspace:interview", args=[undated_case.pk])).content.decode()
    assert '<output id="derived-infectious">—</output>' in page
    assert "Cannot compute: it needs a symptom onset date or a specimen collection date." in page


def test_a_case_with_dates_shows_them_and_no_reason(client, users, make_case, county):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    client.force_login(users[Role.CONTACT_TRACER])
    page = client.get(reverse("workspace:interview", args=[case.pk])).content.decode()
    assert f'<output id="derived-infectious">{case.infectious_start:%Y-%m-%d} – {case.infectious_end:%Y-%m-%d}</output>' in page
    assert '<span id="derived-why" class="field-error"></span>' in page


def test_an_onset_in_the_future_is_the_reason_given(client, users, undated_case):
    client.force_login(users[Role.CONTACT_TRACER])
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    response = _derived(client, undated_case, symptom_onset=tomorrow)
    assert response.status_code == 422
    assert response.json()["error"] == "Cannot compute: Symptom onset cannot be in the future."


@pytest.mark.parametrize("typed", ["2026-13-45", "yesterday", "0000-00-00", "2026-02-30", "\x00", "9" * 5000])
def test_a_date_that_is_no_date_is_named_not_taken_as_empty(client, users, make_case, county, typed):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])  # has a specimen date: empty onset would compute
    client.force_login(users[Role.CONTACT_TRACER])
    response = _derived(client, case, symptom_onset=typed)
    assert response.status_code == 422
    assert response.json() == {"error": "Cannot compute: Enter a valid date.", "field": "symptom_onset"}
