"""Pasted notes and names are never cut short in silence: the page refuses them and says which and how long."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tracecenter.contacts.models import Exposure, Place
from tracecenter.contacts.services import PlaceInput, place_find_or_create
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.workspace.tests.test_interview import form_data, tracer_case, tracer_client  # noqa: F401 -- fixtures


def test_no_box_of_the_interview_lets_the_browser_cut_what_is_pasted(tracer_client, tracer_case):  # noqa: F811
    page = tracer_client.get(reverse("workspace:interview", args=[tracer_case.pk])).content.decode()
    assert "<textarea" in page and "maxlength" not in page


def test_notes_over_the_limit_are_refused_by_name_and_kept_as_typed(tracer_client, tracer_case):  # noqa: F811
    notes = "pasted from the call log. " * 800  # 20,800 characters
    response = tracer_client.post(
        reverse("workspace:interview", args=[tracer_case.pk]), form_data(tracer_case, [], **{"case-notes": notes})
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert (
        f"Interview notes: at most 20000 characters (this has {len(notes.strip())}). Nothing was cut: shorten it and save again."
        in page
    )
    assert notes.strip() in page  # the box gives back all of it, for the tracer to shorten
    tracer_case.refresh_from_db()
    assert tracer_case.interview_notes == ""


def test_a_long_pasted_name_is_refused_by_name(tracer_client, tracer_case):  # noqa: F811
    name = "Maria " * 40
    response = tracer_client.post(
        reverse("workspace:interview", args=[tracer_case.pk]),
        form_data(tracer_case, [{"first_name": name, "last_name": "Reyes"}]),
    )
    assert response.status_code == 422
    assert re.search(r"First name: at most 200 characters \(this has 2\d\d\)\.", response.content.decode())
    assert Exposure.objects.count() == 0


@pytest.mark.parametrize(("field", "limit"), [("street", 200), ("city", 100), ("postal_code", 10)])
def test_a_place_with_a_long_address_is_refused_not_cut(county, field, limit):
    data = PlaceInput(name="Corner Market", kind="store", **{field: "9" * (limit + 1)})
    with pytest.raises(DomainError) as refused:
        place_find_or_create(actor=None, jurisdiction=county, data=data)
    assert refused.value.field == field and f"at most {limit} characters (it has {limit + 1})" in refused.value.message
    assert Place.objects.count() == 0
    place = place_find_or_create(
        actor=None, jurisdiction=county, data=PlaceInput(name="Corner Market", kind="store", **{field: "9" * limit})
    )
    assert getattr(place, field) == "9" * limit


def test_a_long_event_name_in_the_interview_is_refused_on_its_field(tracer_client, tracer_case):  # noqa: F811
    visit = {
        "place_name": "Grace Church",
        "place_kind": "worship",
        "event_name": "Choir " * 34,
        "day": clock.today().isoformat(),
        "arrived": "10:00",
        "left": "11:00",
    }
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), form_data(tracer_case, [], [visit]))
    assert response.status_code == 422
    assert "Event (optional): at most 200 characters" in response.content.decode()
