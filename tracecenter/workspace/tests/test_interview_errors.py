"""The interview's errors: every one of a save at once, listed at the top, each linking to its field."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse

from tracecenter.contacts.models import Exposure
from tracecenter.core import clock
from tracecenter.people.models import Person
from tracecenter.workspace.tests.test_interview import form_data, tracer_case, tracer_client  # noqa: F401 -- fixtures


def _summary_links(page: str) -> list[tuple[str, str]]:
    opening = '<div class="usa-alert usa-alert--error error-summary" id="error-summary" role="alert" tabindex="-1">'
    box = re.search(re.escape(opening) + "(.*?)</div>", page, re.S)
    assert box is not None, "no error summary"
    return re.findall(r'<li><a href="#([^"]+)">(.*?)</a></li>', box.group(1), re.S)


def test_three_errors_in_three_rows_are_all_shown_and_nothing_is_saved(tracer_client, tracer_case):  # noqa: F811
    persons_before = Person.objects.count()
    long_ago = (clock.today() - dt.timedelta(days=40)).isoformat()
    contacts = [
        {"first_name": "Marta", "last_name": "Reyes", "phone": "not a phone"},
        {"first_name": "John", "last_name": "Okafor", "last_exposure_date": long_ago},
        {"first_name": "Ana\x07", "last_name": "Lopez"},
    ]
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), form_data(tracer_case, contacts))
    assert response.status_code == 422
    links = _summary_links(response.content.decode())
    assert [anchor for anchor, _ in links] == [
        "id_contacts-0-phone",
        "id_contacts-1-last_exposure_date",
        "id_contacts-2-first_name",
    ]
    assert links[0][1].startswith("Contact 1, Phone: ") and "not a valid phone number" in links[0][1]
    assert links[1][1].startswith("Contact 2, Last exposure: The last exposure is before")
    assert links[2][1].startswith("Contact 3, First name: ") and "control characters" in links[2][1]
    page = response.content.decode()
    for anchor, _ in links:
        assert f'id="{anchor}"' in page  # each link lands on a control of the page
    assert "The interview was not saved: 3 problems to fix" in page
    assert Exposure.objects.count() == 0 and Person.objects.count() == persons_before
    tracer_case.refresh_from_db()
    assert tracer_case.symptom_onset is None


def test_errors_in_every_section_are_listed_in_the_pages_order(tracer_client, tracer_case):  # noqa: F811
    data = form_data(
        tracer_case,
        [{"first_name": "Marta", "last_name": ""}],
        visits=[{"place_name": "", "place_kind": "store", "day": clock.today().isoformat(), "arrived": "10:00", "left": "11:00"}],
        **{"case-symptom_onset": "31/31/2020", "case-notes": "x" * 20_001},
    )
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 422
    anchors = [anchor for anchor, _ in _summary_links(response.content.decode())]
    assert anchors == ["id_case-symptom_onset", "id_visits-0-place_name", "id_contacts-0-last_name", "id_case-notes"]


def test_a_valid_form_shows_no_summary(tracer_client, tracer_case):  # noqa: F811
    page = tracer_client.get(reverse("workspace:interview", args=[tracer_case.pk])).content.decode()
    assert "error-summary" not in page


def test_every_label_of_the_interview_names_a_control_and_symptoms_is_a_group(tracer_client, tracer_case):  # noqa: F811
    page = tracer_client.get(reverse("workspace:interview", args=[tracer_case.pk])).content.decode()
    page = re.sub(r"<template>.*?</template>", "", page, flags=re.S)  # rows to come: their ids exist once added
    ids = set(re.findall(r'\sid="([^"]+)"', page))
    for target in re.findall(r"<label([^>]*)>", page):
        found = re.search(r'for="([^"]*)"', target)
        assert found is not None and found.group(1) in ids, f"a label without its control: <label{target}>"
    assert page.count(">Symptoms</legend>") == 1
    assert re.search(
        r'<fieldset class="usa-fieldset choices"><legend class="usa-legend">Symptoms</legend><div id="id_case-symptoms">', page
    )
