"""Random JSON posted to the endpoints that write: a 2xx or a 4xx, never a server error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracecenter.accounts.roles import Role

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=60)
    | st.sampled_from(
        [
            "",
            "2024-01-01",
            "1899-12-31",
            "9999-12-31",
            "0001-01-01",
            "2024-02-30",
            "positive",
            "94500-6",
            "(617) 555-0100",
            "a@b.co",
            "F",
            "closed",
            "\x00",
            "\ud800",
            "' OR 1=1 --",
            "<script>",
            "🦠" * 50,
        ]
    )
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12
)

PERSON_FIELDS = [
    "first_name",
    "last_name",
    "middle_name",
    "date_of_birth",
    "sex",
    "preferred_language",
    "street",
    "city",
    "state",
    "postal_code",
    "phones",
    "emails",
    "notes",
    "jurisdiction_id",
]
LAB_FIELDS = [
    "specimen_collection_date",
    "test_loinc",
    "result",
    "test_name",
    "result_date",
    "performing_lab",
    "ordering_provider",
    "ordering_facility",
]
CONTACT_FIELDS = [
    "person_id",
    "person",
    "last_exposure_date",
    "first_exposure_date",
    "setting",
    "proximity",
    "duration_minutes",
    "relationship",
    "notes",
]


def objects_with(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with some of the expected keys (and now and then a stray one), holding any JSON values."""
    known = st.dictionaries(st.sampled_from(fields), json_values, max_size=len(fields))
    return st.one_of(known, st.dictionaries(st.sampled_from([*fields, "id", "first_name_bidx"]), json_values), json_values)


def bodies(fields: list[str]) -> st.SearchStrategy[bytes]:
    as_json = objects_with(fields).map(lambda value: json.dumps(value).encode())
    return st.one_of(as_json, as_json, st.binary(max_size=200))


def _assert_not_a_server_error(response: Any) -> None:
    assert response.status_code < 500, response.content
    assert response["Content-Type"].startswith("application/json")


@pytest.fixture
def supervisor(world, users, session_client):
    return session_client(users[Role.SUPERVISOR])


@SETTINGS
@given(body=bodies(PERSON_FIELDS))
def test_random_persons(supervisor, body):
    _assert_not_a_server_error(supervisor.post("/api/persons", data=body, content_type="application/json"))


@SETTINGS
@given(body=bodies(["last_name", "first_name", "date_of_birth"]))
def test_random_searches(supervisor, body):
    _assert_not_a_server_error(supervisor.post("/api/persons/search", data=body, content_type="application/json"))


@SETTINGS
@given(body=bodies(LAB_FIELDS))
def test_random_lab_results(supervisor, world, django_capture_on_commit_callbacks, body):
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor.post(
            f"/api/persons/{world.other.person_id}/lab-results", data=body, content_type="application/json"
        )
    _assert_not_a_server_error(response)


@SETTINGS
@given(body=bodies(CONTACT_FIELDS), person=objects_with(PERSON_FIELDS))
def test_random_contacts(supervisor, world, body, person):
    _assert_not_a_server_error(
        supervisor.post(f"/api/cases/{world.other.pk}/contacts", data=body, content_type="application/json")
    )
    nested = {"person": person, "last_exposure_date": str(world.other.infectious_start)}
    _assert_not_a_server_error(supervisor.post_json(f"/api/cases/{world.other.pk}/contacts", nested))


@SETTINGS
@given(body=bodies(["status", "reason"]))
def test_random_status_changes(supervisor, world, body):
    _assert_not_a_server_error(supervisor.post(f"/api/cases/{world.other.pk}/status", data=body, content_type="application/json"))


@SETTINGS
@given(body=bodies(["assignee_id", "team_id"]))
def test_random_assignments(supervisor, world, body):
    _assert_not_a_server_error(supervisor.post(f"/api/cases/{world.other.pk}/assign", data=body, content_type="application/json"))
