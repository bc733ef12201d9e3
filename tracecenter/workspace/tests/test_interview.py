"""The interview form: saved whole or not at all, every error on its row and field."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Attendance, Exposure
from tracecenter.core import clock
from tracecenter.people.models import Person


def form_data(
    case: Case, contacts: list[dict[str, str]], visits: list[dict[str, str]] | None = None, **facts: str
) -> dict[str, str]:
    today = clock.today()
    data = {"case-symptom_onset": (today - dt.timedelta(days=3)).isoformat(), "case-symptoms": "cough", **facts}
    visits = visits or []
    data.update({"visits-TOTAL_FORMS": str(len(visits)), "visits-INITIAL_FORMS": "0"})
    for i, visit in enumerate(visits):
        data.update({f"visits-{i}-{k}": v for k, v in visit.items()})
    data.update({"contacts-TOTAL_FORMS": str(len(contacts)), "contacts-INITIAL_FORMS": "0"})
    for i, contact in enumerate(contacts):
        row = {
            "preferred_language": "en",
            "relationship": "friend",
            "setting": "social",
            "proximity": "within_6ft",
            "last_exposure_date": (today - dt.timedelta(days=1)).isoformat(),
            **contact,
        }
        data.update({f"contacts-{i}-{k}": v for k, v in row.items()})
    return data


@pytest.fixture
def tracer_case(users, make_case, county):
    return make_case(county, owner=users[Role.CONTACT_TRACER], days_ago=3)


@pytest.fixture
def tracer_client(client: Client, users) -> Client:
    client.force_login(users[Role.CONTACT_TRACER])
    return client


def test_an_interview_saves_the_facts_contacts_and_places(tracer_client, tracer_case):
    today = clock.today()
    visit = {
        "place_name": "Corner Market",
        "place_kind": "store",
        "day": (today - dt.timedelta(days=2)).isoformat(),
        "arrived": "10:00",
        "left": "10:30",
    }
    data = form_data(
        tracer_case,
        [{"first_name": "Marta", "last_name": "Reyes", "phone": "617-253-0199"}, {"first_name": "John", "last_name": "Okafor"}],
        [visit],
    )
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 302
    tracer_case.refresh_from_db()
    assert tracer_case.status == "interviewed"
    assert tracer_case.symptom_onset == today - dt.timedelta(days=3)
    assert tracer_case.infectious_start == today - dt.timedelta(days=5)
    assert Exposure.objects.filter(case=tracer_case).count() == 2
    assert Attendance.objects.get(case=tracer_case).place.name == "Corner Market"


def test_the_form_offers_a_home_which_is_saved_encrypted_and_shown_on_the_case_page(tracer_client, tracer_case):
    url = reverse("workspace:interview", args=[tracer_case.pk])
    form = tracer_client.get(url).content.decode()
    assert '<option value="residence">Home or residence</option>' in form
    assert "its name and address are stored encrypted" in form
    day = (clock.today() - dt.timedelta(days=2)).isoformat()
    visit = {"place_name": "Marta's apartment", "place_kind": "residence", "street": "12 Birch Row", "day": day}
    response = tracer_client.post(url, form_data(tracer_case, [], [{**visit, "arrived": "19:00", "left": "23:00"}]))
    assert response.status_code == 302
    place = Attendance.objects.get(case=tracer_case).place
    assert (place.kind, place.name, place.street, place.display_name) == ("residence", "", "", "Marta's apartment")
    page = tracer_client.get(reverse("workspace:case_detail", args=[tracer_case.pk])).content.decode()
    assert "Marta&#x27;s apartment:" in page


def test_a_contact_who_speaks_cantonese_is_saved_with_its_code(tracer_client, tracer_case):
    data = form_data(tracer_case, [{"first_name": "Wing", "last_name": "Chan", "preferred_language": "yue"}])
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 302
    assert Exposure.objects.get(case=tracer_case).person.preferred_language == "yue"


def test_the_language_list_is_named_in_the_tracers_language(tracer_client, tracer_case):
    url = reverse("workspace:interview", args=[tracer_case.pk])
    tracer_client.post("/i18n/setlang/", {"language": "es", "next": url})
    html = tracer_client.get(url).content.decode()
    assert '<option value="es">Español</option>' in html
    assert '<option value="yue">Cantonés</option>' in html


def test_one_bad_contact_saves_nothing_and_points_at_its_row(tracer_client, tracer_case):
    persons_before, status_before = Person.objects.count(), tracer_case.status
    long_ago = (clock.today() - dt.timedelta(days=40)).isoformat()
    data = form_data(
        tracer_case,
        [
            {"first_name": "Marta", "last_name": "Reyes"},
            {"first_name": "John", "last_name": "Okafor", "last_exposure_date": long_ago},
        ],
    )
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 422
    formset = response.context["contact_formset"]
    assert formset.forms[1].errors["last_exposure_date"][0].startswith("The last exposure is before the case's infectious period")
    assert not formset.forms[0].errors
    tracer_case.refresh_from_db()
    assert tracer_case.status == status_before and tracer_case.symptom_onset is None
    assert Exposure.objects.count() == 0 and Person.objects.count() == persons_before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("phone", "not a phone", "is not a valid phone number"),
        ("last_exposure_date", "2999-01-01", "cannot be in the future"),
        ("last_exposure_date", "31/31/2020", "Enter a valid date"),
        ("first_name", "Ma\x07\x08", "control characters"),
        ("first_name", "x" * 300, "at most 200 characters"),
    ],
)
def test_a_bad_contact_field_gets_a_clear_message_on_that_field(tracer_client, tracer_case, field, value, message):
    data = form_data(tracer_case, [{"first_name": "Marta", "last_name": "Reyes", field: value}])
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 422
    errors = response.context["contact_formset"].forms[0].errors
    target = "first_name" if field == "first_name" else field
    assert any(message in e for e in errors.get(target, [])), errors
    assert Exposure.objects.count() == 0


def test_a_duplicate_contact_is_refused(tracer_client, tracer_case):
    contact = {"first_name": "Marta", "last_name": "Reyes", "date_of_birth": "1990-05-01"}
    response = tracer_client.post(
        reverse("workspace:interview", args=[tracer_case.pk]), form_data(tracer_case, [contact, contact])
    )
    assert response.status_code == 422
    assert "already a contact" in str(response.context["contact_formset"].forms[1].errors)
    assert Exposure.objects.count() == 0


def test_onset_in_the_future_is_refused_on_its_field(tracer_client, tracer_case):
    data = form_data(tracer_case, [], **{"case-symptom_onset": (clock.today() + dt.timedelta(days=2)).isoformat()})
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 422
    assert "future" in str(response.context["facts_form"].errors["symptom_onset"])


def test_a_forged_row_count_beyond_the_limit_is_refused(tracer_client, tracer_case):
    data = form_data(tracer_case, [])
    data["contacts-TOTAL_FORMS"] = "100000"
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code == 422
    assert Exposure.objects.count() == 0


def test_derived_dates_follow_the_typed_onset(tracer_client, tracer_case):
    onset = clock.today() - dt.timedelta(days=6)
    response = tracer_client.post(
        reverse("workspace:derived_dates", args=[tracer_case.pk]), {"case-symptom_onset": onset.isoformat()}
    )
    assert response.json() == {
        "infectious_start": (onset - dt.timedelta(days=2)).isoformat(),
        "infectious_end": (onset + dt.timedelta(days=10)).isoformat(),
        "isolation_end": (onset + dt.timedelta(days=10)).isoformat(),
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.dictionaries(
        st.sampled_from(
            [
                "first_name",
                "last_name",
                "phone",
                "date_of_birth",
                "last_exposure_date",
                "relationship",
                "setting",
                "proximity",
                "duration_minutes",
                "preferred_language",
            ]
        ),
        st.text(max_size=60),
        min_size=1,
    )
)
def test_hostile_contact_rows_never_crash_the_form(tracer_client, tracer_case, values):
    data = form_data(tracer_case, [{k: v.replace("\x00", "") for k, v in values.items()}])
    response = tracer_client.post(reverse("workspace:interview", args=[tracer_case.pk]), data)
    assert response.status_code in {302, 422}


def test_a_contact_named_like_someone_known_elsewhere_is_saved_as_entered_and_reviewed_later(
    tracer_client, tracer_case, make_person, other_county, state
):
    from conftest import run_background_work
    from tracecenter.people.models import MatchReview

    known = make_person(other_county, first_name="Marta", last_name="Reyes", phones=["(617) 253-0199"], street="1 Far Rd")
    url = reverse("workspace:interview", args=[tracer_case.pk])
    known_like = tracer_client.post(
        url, form_data(tracer_case, [{"first_name": "Marta", "last_name": "Reyes", "phone": "617-253-0199"}])
    )
    exposure = Exposure.objects.get(case=tracer_case)
    assert exposure.person != known and exposure.person.jurisdiction == tracer_case.jurisdiction
    assert known_like.status_code == 302 and known_like["Location"] == reverse("workspace:case_detail", args=[tracer_case.pk])
    page = tracer_client.get(known_like["Location"]).content.decode()
    assert "Far Rd" not in page and f"person {known.pk}" not in page
    run_background_work()
    review = MatchReview.objects.get()
    assert (review.incoming_id, review.candidate_id, review.jurisdiction) == (exposure.person_id, known.pk, state)
