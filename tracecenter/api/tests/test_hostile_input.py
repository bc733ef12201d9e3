"""Malformed and hostile input: a clear 4xx naming the field, and nothing saved half-way."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure
from tracecenter.core import clock
from tracecenter.intake.models import LabResult
from tracecenter.people.models import ContactPoint, Person

TOMORROW = (clock.today() + dt.timedelta(days=1)).isoformat()
YESTERDAY = (clock.today() - dt.timedelta(days=1)).isoformat()
LAB = {"specimen_collection_date": YESTERDAY, "test_loinc": "94500-6", "result": "negative"}
# Today as seconds since 1970: what pydantic alone would have read as a date.
TODAY_AS_SECONDS = int(dt.datetime.combine(clock.today(), dt.time(), dt.UTC).timestamp())


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Person, ContactPoint, LabResult, Case, Exposure))


@pytest.fixture
def investigator(world, users, session_client):
    return session_client(users[Role.CASE_INVESTIGATOR])


@pytest.fixture
def supervisor(world, users, session_client):
    return session_client(users[Role.SUPERVISOR])


PERSON_CASES = [
    ({"first_name": 123, "last_name": "X"}, "first_name"),
    ({"first_name": ["A"], "last_name": "X"}, "first_name"),
    ({"last_name": "X"}, "first_name"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": "yesterday"}, "date_of_birth"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": TOMORROW}, "date_of_birth"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": "1850-01-01"}, "date_of_birth"),
    ({"first_name": "A" * 100_000, "last_name": "X"}, "first_name"),
    ({"first_name": "A", "last_name": "X", "notes": "n" * 10_001}, "notes"),
    ({"first_name": "A", "last_name": "X", "phones": ["123"]}, "phones"),
    ({"first_name": "A", "last_name": "X", "phones": ["not a phone"]}, "phones"),
    ({"first_name": "A", "last_name": "X", "phones": "6175550100"}, "phones"),
    ({"first_name": "A", "last_name": "X", "phones": ["(617) 555-0100"] * 11}, "phones"),
    ({"first_name": "A", "last_name": "X", "emails": ["@nowhere"]}, "emails"),
    ({"first_name": "A", "last_name": "X", "sex": "Z"}, "sex"),
    ({"first_name": "A", "last_name": "X", "state": "M1"}, "state"),
    ({"first_name": "A", "last_name": "X", "postal_code": "DROP TABLE"}, "postal_code"),
    ({"first_name": "A", "last_name": "X", "preferred_language": "en'; --"}, "preferred_language"),
    ({"first_name": "A\x00B", "last_name": "X"}, "first_name"),
    ({"first_name": "A", "last_name": "X", "street": "1 Main St\x00"}, "street"),
    ({"first_name": "A", "last_name": "X", "city": "Boston\ud800"}, "city"),
    ({"first_name": "1234", "last_name": "X"}, "first_name"),
    ({"first_name": "   ", "last_name": "X"}, "first_name"),
    ({"first_name": "A", "last_name": "X", "first_name_bidx": "aaaa"}, "first_name_bidx"),
    ({"first_name": "A", "last_name": "X", "jurisdiction_id": "1 OR 1=1"}, "jurisdiction_id"),
    ({"first_name": "A", "last_name": "X", "jurisdiction_id": 10**30}, "jurisdiction_id"),
    # A date is the text YYYY-MM-DD: a number, or digits, were read as seconds since 1970 (0: 1 January 1970).
    ({"first_name": "A", "last_name": "X", "date_of_birth": 0}, "date_of_birth"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": "0"}, "date_of_birth"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": 86400 * 7000}, "date_of_birth"),
    ({"first_name": "A", "last_name": "X", "date_of_birth": "1990-01-02T00:00:00"}, "date_of_birth"),
]


@pytest.mark.parametrize(("payload", "field"), PERSON_CASES)
def test_bad_persons_are_refused_with_the_field(investigator, payload, field):
    before = _counts()
    response = investigator.post_json("/api/persons", payload)
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["field"].split(".")[0] == field, body
    assert body["detail"]
    assert _counts() == before


@pytest.mark.parametrize(
    "name",
    [
        "Robert'); DROP TABLE people_person;--",
        "<script>alert('x')</script>",
        'O\'Brien " OR "1"="1',
        "{{7*7}} ${7*7} Smith",
    ],
)
def test_injection_strings_are_stored_as_plain_text(investigator, name):
    response = investigator.post_json("/api/persons", {"first_name": "Ann", "last_name": name, "notes": name})
    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    person = Person.objects.get(pk=response.json()["id"])
    assert person.last_name == " ".join(name.split()) and person.notes == name
    assert response.json()["notes"] == name
    search = investigator.post_json("/api/persons/search", {"last_name": name})
    assert search.status_code == 200 and search.json()["count"] == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**LAB, "specimen_collection_date": TOMORROW}, "specimen_collection_date"),
        ({**LAB, "specimen_collection_date": "2024-02-30"}, "specimen_collection_date"),
        ({**LAB, "specimen_collection_date": "0001-01-01"}, "specimen_collection_date"),
        ({**LAB, "result_date": TOMORROW}, "result_date"),
        ({**LAB, "result_date": "2000-01-01"}, "result_date"),
        ({**LAB, "test_loinc": "94500-7"}, "test_loinc"),
        ({**LAB, "test_loinc": "1' OR '1'='1"}, "test_loinc"),
        ({**LAB, "result": "POSITIVE!!"}, "result"),
        ({**LAB, "result": None}, "result"),
        ({**LAB, "test_name": "x" * 201}, "test_name"),
        ({**LAB, "test_name": "PCR\x00"}, "test_name"),
        ({**LAB, "entered_by": 1}, "entered_by"),
        ({"test_loinc": "94500-6", "result": "positive"}, "specimen_collection_date"),
        ({**LAB, "specimen_collection_date": TODAY_AS_SECONDS}, "specimen_collection_date"),
    ],
)
def test_bad_lab_results_are_refused_with_the_field(investigator, world, payload, field):
    before = _counts()
    response = investigator.post_json(f"/api/persons/{world.mine.person_id}/lab-results", payload)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert _counts() == before


def test_a_specimen_before_birth_is_refused(investigator, world):
    world.mine.person.date_of_birth = dt.date(2020, 1, 1)
    world.mine.person.save()
    response = investigator.post_json(
        f"/api/persons/{world.mine.person_id}/lab-results", {**LAB, "specimen_collection_date": "2019-12-31"}
    )
    assert response.status_code == 422 and response.json()["field"] == "specimen_collection_date"


def _contact(**overrides):
    return {"person": {"first_name": "Nia", "last_name": "Contact"}, "last_exposure_date": YESTERDAY, **overrides}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_contact(last_exposure_date=TOMORROW), "last_exposure_date"),
        (_contact(last_exposure_date=(clock.today() - dt.timedelta(days=30)).isoformat()), "last_exposure_date"),
        (_contact(first_exposure_date=clock.today().isoformat()), "first_exposure_date"),
        (_contact(duration_minutes=-5), "duration_minutes"),
        (_contact(duration_minutes="long"), "duration_minutes"),
        (_contact(duration_minutes=10**40), "duration_minutes"),
        (_contact(setting="moon"), "setting"),
        (_contact(notes="n" * 5001), "notes"),
        (_contact(person={"first_name": "", "last_name": "Contact"}), "person.first_name"),
        (_contact(person={"first_name": "Nia", "last_name": "Contact", "phones": ["555"]}), "person.phones"),
        (_contact(person={"first_name": "Nia", "last_name": "Contact", "date_of_birth": TOMORROW}), "person.date_of_birth"),
        (_contact(person_id=1), "person"),
        ({"last_exposure_date": YESTERDAY}, "person"),
        (_contact(person_id="1; DROP TABLE contacts_exposure"), "person_id"),
        (_contact(person=None, person_id=True), "person_id"),
        (_contact(duration_minutes=True), "duration_minutes"),
        (_contact(duration_minutes="30"), "duration_minutes"),
        (_contact(last_exposure_date=TODAY_AS_SECONDS), "last_exposure_date"),
    ],
)
def test_bad_contacts_are_refused_with_the_field_and_nothing_is_saved(investigator, world, payload, field):
    before = _counts()
    response = investigator.post_json(f"/api/cases/{world.mine.pk}/contacts", payload)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field, response.json()
    assert _counts() == before


def test_a_duplicate_contact_is_refused_and_the_new_person_is_not_kept(investigator, world):
    existing = world.contact.person
    by_id = investigator.post_json(
        f"/api/cases/{world.mine.pk}/contacts", {"person_id": existing.pk, "last_exposure_date": YESTERDAY}
    )
    assert by_id.status_code == 422 and by_id.json()["field"] == "person_id"
    before = _counts()
    # Named again (same name and birth date): found, linked, and refused as a duplicate.
    again = investigator.post_json(
        f"/api/cases/{world.mine.pk}/contacts",
        _contact(person={"first_name": "eli", "last_name": "CONTACTSON", "date_of_birth": "1990-01-02"}),
    )
    assert again.status_code == 422 and again.json()["field"] == "person.last_name"
    assert _counts() == before
    own = investigator.post_json(
        f"/api/cases/{world.mine.pk}/contacts", {"person_id": world.mine.person_id, "last_exposure_date": YESTERDAY}
    )
    assert own.status_code == 422
    assert _counts() == before


@pytest.mark.parametrize("body", [b"not json", b"{'single': 'quotes'}", b'{"first_name": "A",', b"\xff\xfe\x00", b"   "])
def test_a_body_that_is_not_json_is_400(investigator, body):
    before = _counts()
    response = investigator.post("/api/persons", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["field"] == "body"
    assert _counts() == before


@pytest.mark.parametrize("body", ["[]", "null", '"a string"', "42", '[{"first_name": "A", "last_name": "B"}]'])
def test_json_that_is_not_an_object_is_422(investigator, body):
    response = investigator.post("/api/persons", data=body, content_type="application/json")
    assert response.status_code == 422, response.content


def test_a_form_encoded_body_is_refused(investigator):
    response = investigator.post("/api/persons", data={"first_name": "A", "last_name": "B"})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 3 * 1024 * 1024])
def test_an_oversized_body_is_413(investigator, size):
    before = _counts()
    body = json.dumps({"first_name": "A", "last_name": "B", "notes": "x" * size})
    response = investigator.post("/api/persons", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert _counts() == before


def test_a_body_just_under_the_limit_reaches_validation(investigator):
    body = json.dumps({"first_name": "A", "last_name": "B", "notes": "x" * (1024 * 1024 - 100)})
    response = investigator.post("/api/persons", data=body, content_type="application/json")
    assert response.status_code == 422 and response.json()["field"] == "notes"


@pytest.mark.parametrize(
    "path",
    [
        "/api/cases/abc",
        "/api/cases/-1",
        "/api/cases/0",
        "/api/cases/99999999999999999999999",
        "/api/persons/1.5",
        "/api/cases?page=abc",
        "/api/cases?status=nope",
        "/api/cases?page=10000000000",
    ],
)
def test_bad_ids_and_query_values_are_422(supervisor, path):
    response = supervisor.get(path)
    assert response.status_code == 422, response.content
    assert response.json()["field"]


def test_an_id_is_a_json_number_not_text_nor_true(investigator, county):
    # true was read as 1 and "12" as 12: a request the schema says is wrong did something.
    before = _counts()
    for value in (str(county.pk), True):
        response = investigator.post_json("/api/persons", {"first_name": "A", "last_name": "X", "jurisdiction_id": value})
        assert response.status_code == 422 and response.json()["field"] == "jurisdiction_id", response.content
    assert _counts() == before
    as_number = investigator.post_json("/api/persons", {"first_name": "A", "last_name": "X", "jurisdiction_id": county.pk})
    assert as_number.status_code == 201


def test_an_assignee_given_as_true_is_not_user_1(supervisor, world, users):
    response = supervisor.post_json(f"/api/cases/{world.other.pk}/assign", {"assignee_id": True})
    assert response.status_code == 422 and response.json()["field"] == "assignee_id"
    world.other.refresh_from_db()
    assert world.other.owner_id is None


def test_a_status_reason_too_long_or_with_control_characters_is_refused(investigator, world):
    long = investigator.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "r" * 301})
    assert long.status_code == 422 and long.json()["field"] == "reason"
    nul = investigator.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "ok\x00"})
    assert nul.status_code == 422 and nul.json()["field"] == "reason"
    world.mine.refresh_from_db()
    assert world.mine.status == "new"


def test_validation_errors_list_every_field_without_echoing_the_input(investigator):
    response = investigator.post_json("/api/persons", {"first_name": 1, "last_name": 2, "date_of_birth": "secret-value"})
    body = response.json()
    assert {e["field"] for e in body["errors"]} == {"first_name", "last_name", "date_of_birth"}
    assert "secret-value" not in response.content.decode()
