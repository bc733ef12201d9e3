"""Writes through the API: they call the services, and the services' rules and audit apply."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import Exposure
from tracecenter.core import clock
from tracecenter.intake.models import LabResult
from tracecenter.people.models import Person

TODAY = clock.today


def _lab(result: str = "positive", days_ago: int = 1) -> dict:
    return {
        "specimen_collection_date": (TODAY() - dt.timedelta(days=days_ago)).isoformat(),
        "test_loinc": "94500-6",
        "result": result,
        "test_name": "SARS-CoV-2 RNA NAA",
    }


@pytest.mark.parametrize("role", [Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR])
def test_a_worker_enters_a_person_and_a_positive_result_opens_a_case(
    users, session_client, django_capture_on_commit_callbacks, role, county
):
    user = users[role]
    client = session_client(user)
    created = client.post_json(
        "/api/persons",
        {
            "first_name": "Gus",
            "last_name": "Newman",
            "date_of_birth": "1961-07-08",
            "phones": ["617 555 0199"],
            "emails": ["Gus@Example.org"],
            "sex": "M",
        },
    )
    assert created.status_code == 201, created.content
    person = created.json()
    assert person["phones"] == ["+16175550199"] and person["emails"] == ["gus@example.org"]
    assert person["jurisdiction_id"] == county.pk
    # The one who entered them can open them while they are neither case nor contact.
    assert client.get(f"/api/persons/{person['id']}").status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(f"/api/persons/{person['id']}/lab-results", _lab("positive"))
    run_background_work()
    assert response.status_code == 201, response.content
    lab = LabResult.objects.get(pk=response.json()["id"])
    assert lab.source == LabResult.Source.API and lab.entered_by == user
    case = Case.objects.get(lab_results=lab)
    assert case.person_id == person["id"] and case.status == CaseStatus.NEW
    assert AuditEntry.objects.filter(
        action=Action.CREATE, object_type="lab_result", object_id=str(lab.pk), actor_id=user.pk
    ).exists()
    assert AuditEntry.objects.filter(
        action=Action.CREATE, object_type="person", object_id=str(person["id"]), actor_id=user.pk
    ).exists()


@pytest.mark.django_db(transaction=True)
def test_a_positive_result_opens_its_case_in_the_workers_after_the_response(users, session_client):
    """Nothing is delivered inside a request: the response has no case yet; the workers open it right after."""
    client = session_client(users[Role.SUPERVISOR])
    person = client.post_json("/api/persons", {"first_name": "Hana", "last_name": "Positive"}).json()
    response = client.post_json(f"/api/persons/{person['id']}/lab-results", _lab("positive"))
    assert response.status_code == 201
    assert response.json()["case_id"] is None
    run_background_work()
    case = Case.objects.get(person_id=person["id"])
    assert list(case.lab_results.values_list("pk", flat=True)) == [response.json()["id"]]
    cases = client.get("/api/cases").json()["items"]
    assert [c["id"] for c in cases if c["person_id"] == person["id"]] == [case.pk]


def test_a_negative_result_opens_no_case(users, session_client, django_capture_on_commit_callbacks):
    client = session_client(users[Role.SUPERVISOR])
    person = client.post_json("/api/persons", {"first_name": "Ida", "last_name": "Negative"}).json()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post_json(f"/api/persons/{person['id']}/lab-results", _lab("negative"))
    run_background_work()
    assert response.status_code == 201
    assert not Case.objects.filter(person_id=person["id"]).exists()


def test_a_tracer_cannot_record_a_result_for_someone_another_worker_entered(users, make_user, county, team, session_client):
    first = session_client(users[Role.CONTACT_TRACER])
    person = first.post_json("/api/persons", {"first_name": "Jo", "last_name": "Private"}).json()
    other = session_client(make_user(Role.CONTACT_TRACER, county, team))
    assert other.get(f"/api/persons/{person['id']}").status_code == 404
    assert other.post_json(f"/api/persons/{person['id']}/lab-results", _lab()).status_code == 404
    # Their supervisor sees persons waiting in the county.
    assert session_client(users[Role.SUPERVISOR]).get(f"/api/persons/{person['id']}").status_code == 200


def test_a_person_goes_to_a_jurisdiction_below_the_users_only(users, session_client, state, other_county, county):
    client = session_client(users[Role.SUPERVISOR])
    response = client.post_json(
        "/api/persons", {"first_name": "Kim", "last_name": "Elsewhere", "jurisdiction_id": other_county.pk}
    )
    assert response.status_code == 422 and response.json()["field"] == "jurisdiction_id"
    assert not Person.objects.filter(jurisdiction=other_county).exists()


def test_the_investigator_adds_a_new_contact_to_their_case(world, users, session_client):
    client = session_client(users[Role.CASE_INVESTIGATOR])
    response = client.post_json(
        f"/api/cases/{world.mine.pk}/contacts",
        {
            "person": {"first_name": "Lou", "last_name": "Newcontact", "phones": ["(617) 555-0177"]},
            "last_exposure_date": (TODAY() - dt.timedelta(days=1)).isoformat(),
            "setting": "work",
            "proximity": "within_6ft",
            "duration_minutes": 30,
            "relationship": "coworker",
            "notes": "Shares an office.",
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    exposure = Exposure.objects.get(pk=body["id"])
    assert exposure.case_id == world.mine.pk and exposure.setting == "work" and body["notes"] == "Shares an office."
    assert body["quarantine_end"] == (TODAY() - dt.timedelta(days=1) + dt.timedelta(days=14)).isoformat()
    assert client.get(f"/api/persons/{exposure.person_id}").status_code == 200


def test_adding_a_contact_answers_alike_whether_or_not_someone_like_them_is_known(
    world, users, session_client, make_person, other_county
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    known = make_person(
        other_county, first_name="Gail", last_name="Knownly", date_of_birth=dt.date(1960, 1, 2), phones=["(617) 555-0166"]
    )
    client = session_client(users[Role.CASE_INVESTIGATOR])
    client.get("/api/cases")  # the session's first request may read more

    def add(first: str, last: str, phone: str) -> tuple[dict, int, int]:
        payload = {
            "person": {"first_name": first, "last_name": last, "date_of_birth": "1960-01-02", "phones": [phone]},
            "last_exposure_date": (TODAY() - dt.timedelta(days=1)).isoformat(),
        }
        with CaptureQueriesContext(connection) as ctx:
            response = client.post_json(f"/api/cases/{world.mine.pk}/contacts", payload)
        return response.json(), response.status_code, len(ctx.captured_queries)

    like_known, like_status, like_queries = add("Gail", "Knownly", "(617) 555-0166")
    stranger, stranger_status, stranger_queries = add("Hank", "Unknownly", "(617) 555-0167")
    # The same status, the same fields, the same work: nothing tells whether Gail Knownly is known.
    assert like_status == stranger_status == 201
    assert set(like_known) == set(stranger)
    assert like_queries == stranger_queries
    assert like_known["person_id"] not in (known.pk, stranger["person_id"])
    # The investigator sees the record as entered, not the known person, and cannot add results to them.
    assert client.get(f"/api/persons/{like_known['person_id']}").status_code == 200
    assert client.get(f"/api/persons/{known.pk}").status_code == 404
    assert client.post_json(f"/api/persons/{known.pk}/lab-results", _lab()).status_code == 404
    assert known.pk not in {p["id"] for p in client.get("/api/persons?page_size=100").json()["items"]}


def test_a_contact_can_be_an_existing_visible_person(world, users, session_client):
    client = session_client(users[Role.SUPERVISOR])
    response = client.post_json(
        f"/api/cases/{world.mine.pk}/contacts",
        {
            "person_id": world.other_contact.person_id,
            "last_exposure_date": (TODAY() - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 201, response.content
    assert response.json()["person_id"] == world.other_contact.person_id


def test_a_contact_cannot_be_a_person_out_of_reach(world, users, session_client):
    client = session_client(users[Role.CASE_INVESTIGATOR])
    for person_id in (world.far.person_id, world.other.person_id, 999999):
        response = client.post_json(
            f"/api/cases/{world.mine.pk}/contacts",
            {
                "person_id": person_id,
                "last_exposure_date": (TODAY() - dt.timedelta(days=1)).isoformat(),
            },
        )
        assert response.status_code == 422
        assert response.json() == {"detail": "There is no such person.", "field": "person_id"}
    assert Exposure.objects.filter(case=world.mine).count() == 1


def test_a_tracer_cannot_add_contacts_to_a_case_they_cannot_see(world, users, session_client):
    client = session_client(users[Role.CONTACT_TRACER])
    persons = Person.objects.count()
    response = client.post_json(
        f"/api/cases/{world.other.pk}/contacts",
        {
            "person": {"first_name": "Max", "last_name": "Nope"},
            "last_exposure_date": TODAY().isoformat(),
        },
    )
    assert response.status_code == 404
    assert Person.objects.count() == persons


def test_the_status_changes_with_a_reason(world, users, session_client):
    client = session_client(users[Role.CASE_INVESTIGATOR])
    response = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "  Left a  voicemail "})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "attempting"
    change = world.mine.status_changes.get()
    assert change.reason == "Left a voicemail" and change.changed_by == users[Role.CASE_INVESTIGATOR]
    blank = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "interviewed", "reason": "   "})
    assert blank.status_code == 422 and blank.json()["field"] == "reason"
    illegal = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "released", "reason": "Skip ahead"})
    assert illegal.status_code == 422 and illegal.json()["field"] == "status"
    unknown = client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "vanished", "reason": "x"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "status"
    world.mine.refresh_from_db()
    assert world.mine.status == "attempting"


def test_only_a_supervisor_assigns(world, users, session_client, make_user, county, other_county, team):
    investigator = users[Role.CASE_INVESTIGATOR]
    assert (
        session_client(investigator)
        .post_json(f"/api/cases/{world.other.pk}/assign", {"assignee_id": investigator.pk})
        .status_code
        == 403
    )
    assert session_client(investigator).post_json(f"/api/cases/{world.mine.pk}/assign", {"assignee_id": None}).status_code == 403
    supervisor = session_client(users[Role.SUPERVISOR])
    response = supervisor.post_json(f"/api/cases/{world.other.pk}/assign", {"assignee_id": investigator.pk})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["owner_id"] == investigator.pk and body["team_id"] == team.pk and body["status"] == "assigned"
    assert AuditEntry.objects.filter(action=Action.ASSIGN, object_type="case", object_id=str(world.other.pk)).exists()
    # Now the investigator sees it.
    assert session_client(investigator).get(f"/api/cases/{world.other.pk}").status_code == 200
    stranger = make_user(Role.CASE_INVESTIGATOR, other_county)
    wrong = supervisor.post_json(f"/api/cases/{world.mine.pk}/assign", {"assignee_id": stranger.pk})
    assert wrong.status_code == 422 and wrong.json()["field"] == "assignee_id"
    planner = supervisor.post_json(f"/api/cases/{world.mine.pk}/assign", {"assignee_id": users[Role.WORKFORCE_PLANNER].pk})
    assert planner.status_code == 422 and planner.json()["field"] == "assignee_id"
    missing = supervisor.post_json(f"/api/cases/{world.mine.pk}/assign", {"assignee_id": 987654})
    assert missing.status_code == 422 and missing.json()["field"] == "assignee_id"
    # A case of another county is out of the supervisor's reach.
    assert supervisor.post_json(f"/api/cases/{world.far.pk}/assign", {"assignee_id": investigator.pk}).status_code == 404
