"""Each role sees through the API exactly what the policy lets it see, and every read is audited."""

from __future__ import annotations

import pytest

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.cases.models import Case

NO_RECORDS = [Role.WORKFORCE_PLANNER, Role.QUALITY_ANALYST, Role.ADMINISTRATOR, Role.AUDITOR]
PERSONAL = ["Beatriz", "Mineiro", "Otherton", "Farley", "Contactson", "Seconda", "555"]


def _visible(world, role):
    """What each role with records should see: {kind: set of ids}."""
    w = world
    if role == Role.CASE_INVESTIGATOR:
        cases = {w.mine}
        contacts = {w.contact}
    elif role == Role.CONTACT_TRACER:
        # Follows a contact of `mine`: the contact and its person, not the case nor the case's person.
        cases = set()
        contacts = {w.contact}
    else:  # supervisor of team A (sees team A and not-yet-routed records), epidemiologist (the county)
        cases = {w.mine, w.other}
        contacts = {w.contact, w.other_contact}
    persons = {c.person_id for c in cases} | {e.person_id for e in contacts}
    labs = {lab.pk for c in cases for lab in c.lab_results.all()}
    return {
        "cases": {c.pk for c in cases},
        "contacts": {e.pk for e in contacts},
        "persons": persons,
        "lab-results": labs,
    }


def _all_ids(world):
    w = world
    cases = [w.mine, w.other, w.far]
    return {
        "cases": {c.pk for c in cases},
        "contacts": {w.contact.pk, w.other_contact.pk},
        "persons": {c.person_id for c in cases} | {w.contact.person_id, w.other_contact.person_id},
        "lab-results": {lab.pk for c in cases for lab in c.lab_results.all()},
    }


OBJECT_TYPES = {"cases": "case", "contacts": "contact", "persons": "person", "lab-results": "lab_result"}
LIST_TYPES = {"cases": "case_list", "contacts": "contact_list", "persons": "person_list", "lab-results": "lab_result_list"}


@pytest.mark.parametrize("role", [Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR, Role.EPIDEMIOLOGIST])
@pytest.mark.parametrize("kind", ["cases", "contacts", "persons", "lab-results"])
def test_lists_hold_exactly_what_the_role_may_see_and_are_audited(world, users, session_client, role, kind):
    user = users[role]
    client = session_client(user)
    before = AuditEntry.objects.count()
    response = client.get(f"/api/{kind}")
    assert response.status_code == 200, response.content
    body = response.json()
    expected = _visible(world, role)[kind]
    assert {item["id"] for item in body["items"]} == expected
    assert body["count"] == len(expected)
    entries = list(AuditEntry.objects.order_by("pk")[before:])
    assert len(entries) == 1 + len(expected)  # the list, and each record it held
    entry = entries[0]
    assert (entry.action, entry.object_type, entry.actor_id, entry.channel) == (Action.READ, LIST_TYPES[kind], user.pk, "api")
    assert entry.detail.startswith(f"{len(expected)} ids")
    assert {(e.object_type, int(e.object_id)) for e in entries[1:]} == {(OBJECT_TYPES[kind], pk) for pk in expected}


@pytest.mark.parametrize("role", [Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.SUPERVISOR, Role.EPIDEMIOLOGIST])
@pytest.mark.parametrize("kind", ["cases", "contacts", "persons", "lab-results"])
def test_details_open_visible_records_and_refuse_the_others(world, users, session_client, role, kind):
    user = users[role]
    client = session_client(user)
    visible = _visible(world, role)[kind]
    for pk in sorted(_all_ids(world)[kind]):
        response = client.get(f"/api/{kind}/{pk}")
        entry = AuditEntry.objects.order_by("-pk").first()
        if pk in visible:
            assert response.status_code == 200, (pk, response.content)
            assert response.json()["id"] == pk
            assert (entry.action, entry.object_type, entry.object_id) == (Action.READ, OBJECT_TYPES[kind], str(pk))
        else:
            # The same answer as for an id that does not exist; the trail still records the refusal.
            assert response.status_code == 404, (pk, response.content)
            assert (entry.action, entry.object_type, entry.object_id) == (Action.DENIED, OBJECT_TYPES[kind], str(pk))


@pytest.mark.parametrize("role", NO_RECORDS)
def test_roles_without_records_see_no_person_data(world, users, session_client, role):
    client = session_client(users[role])
    ids = _all_ids(world)
    for kind in ("cases", "contacts", "persons", "lab-results"):
        response = client.get(f"/api/{kind}")
        assert response.status_code == 403
        for pk in ids[kind]:
            detail = client.get(f"/api/{kind}/{pk}")
            assert detail.status_code == 403
            assert not any(word in detail.content.decode() for word in PERSONAL)
    search = client.post_json("/api/persons/search", {"last_name": "Mineiro"})
    assert search.status_code == 403
    assert AuditEntry.objects.filter(actor_id=users[role].pk, action=Action.READ).count() == 0
    assert AuditEntry.objects.filter(actor_id=users[role].pk, action=Action.DENIED).count() > 0


@pytest.mark.parametrize("role", [*NO_RECORDS, Role.EPIDEMIOLOGIST])
def test_roles_that_may_not_write_are_refused(world, users, session_client, role):
    client = session_client(users[role])
    w = world
    responses = [
        client.post_json("/api/persons", {"first_name": "New", "last_name": "Person"}),
        client.post_json(
            f"/api/persons/{w.mine.person_id}/lab-results",
            {"specimen_collection_date": "2024-01-01", "test_loinc": "94500-6", "result": "negative"},
        ),
        client.post_json(
            f"/api/cases/{w.mine.pk}/contacts",
            {"person": {"first_name": "New", "last_name": "Contact"}, "last_exposure_date": "2024-01-01"},
        ),
        client.post_json(f"/api/cases/{w.mine.pk}/status", {"status": "attempting", "reason": "Calling"}),
        client.post_json(f"/api/cases/{w.mine.pk}/assign", {"assignee_id": None}),
    ]
    assert [r.status_code for r in responses] == [403] * 5


def test_a_tracer_of_another_county_gets_404(world, make_user, other_county, session_client):
    stranger = make_user(Role.CONTACT_TRACER, other_county)
    client = session_client(stranger)
    assert client.get(f"/api/cases/{world.mine.pk}").status_code == 404
    assert client.get(f"/api/persons/{world.mine.person_id}").status_code == 404
    assert client.get(f"/api/contacts/{world.contact.pk}").status_code == 404
    assert client.post_json(f"/api/cases/{world.mine.pk}/status", {"status": "attempting", "reason": "x"}).status_code == 404
    assert client.get("/api/cases").json()["items"] == []


def test_a_supervisor_of_another_county_sees_only_that_county(world, make_user, other_county, session_client):
    client = session_client(make_user(Role.SUPERVISOR, other_county))
    assert {c["id"] for c in client.get("/api/cases").json()["items"]} == {world.far.pk}
    assert client.get(f"/api/cases/{world.mine.pk}").status_code == 404


def test_a_missing_record_is_404(world, users, session_client):
    client = session_client(users[Role.EPIDEMIOLOGIST])
    for kind in ("cases", "contacts", "persons", "lab-results"):
        response = client.get(f"/api/{kind}/999999")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found.", "field": None}


def test_search_by_name_is_a_post_and_is_audited_without_the_name(world, users, session_client):
    client = session_client(users[Role.CASE_INVESTIGATOR])
    assert client.get("/api/persons/search").status_code == 405
    response = client.post_json("/api/persons/search", {"last_name": "  MINEIRO ", "first_name": "beatriz"})
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["items"]] == [world.mine.person_id]
    # The investigator cannot find a person of a case that is not theirs.
    assert client.post_json("/api/persons/search", {"last_name": "Otherton"}).json()["count"] == 0
    entry = AuditEntry.objects.filter(action=Action.SEARCH, object_type="person", object_id="").order_by("-pk").first()
    assert entry.fields == ["last_name"] and "Otherton" not in entry.detail


def test_list_pages(world, users, session_client):
    client = session_client(users[Role.EPIDEMIOLOGIST])
    first = client.get("/api/cases?page_size=1").json()
    second = client.get("/api/cases?page_size=1&page=2").json()
    assert first["count"] == second["count"] == 2
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert client.get("/api/cases?page_size=101").status_code == 422
    assert client.get("/api/cases?page=0").json()["field"] == "page"
    assert client.get("/api/cases?page=99").json()["items"] == []


def test_responses_never_show_blind_indexes_or_ciphertext(world, users, session_client):
    client = session_client(users[Role.EPIDEMIOLOGIST])
    bodies = [
        client.get(f"/api/persons/{world.mine.person_id}").content.decode(),
        client.get("/api/persons").content.decode(),
        client.get(f"/api/cases/{world.mine.pk}").content.decode(),
        client.get(f"/api/contacts/{world.contact.pk}").content.decode(),
        client.get("/api/schema").content.decode(),
    ]
    for body in bodies:
        assert "bidx" not in body
        assert "tc1$" not in body
    person = client.get(f"/api/persons/{world.mine.person_id}").json()
    assert person["first_name"] == "Beatriz" and person["phones"] == ["+16175550101"]


def test_a_tracer_who_follows_a_contact_may_neither_read_nor_change_its_case(world, users, session_client):
    from tracecenter.cases.models import Case
    from tracecenter.contacts.models import Exposure
    from tracecenter.intake.models import LabResult

    w = world
    tracer = users[Role.CONTACT_TRACER]
    client = session_client(tracer)
    labs_before, contacts_before = LabResult.objects.count(), Exposure.objects.count()
    lab = {"specimen_collection_date": "2024-01-01", "test_loinc": "94500-6", "result": "positive"}
    responses = {
        "case": client.get(f"/api/cases/{w.mine.pk}"),
        "case person": client.get(f"/api/persons/{w.mine.person_id}"),
        "status": client.post_json(f"/api/cases/{w.mine.pk}/status", {"status": "attempting", "reason": "Calling"}),
        "contact": client.post_json(
            f"/api/cases/{w.mine.pk}/contacts",
            {"person": {"first_name": "New", "last_name": "Contact"}, "last_exposure_date": "2024-01-01"},
        ),
        "lab result": client.post_json(f"/api/persons/{w.mine.person_id}/lab-results", lab),
        "assign": client.post_json(f"/api/cases/{w.mine.pk}/assign", {"assignee_id": tracer.pk}),
    }
    # Out of reach: not found, as a missing id (docs/security.md); assigning is not the tracer's role at all.
    assert {name: r.status_code for name, r in responses.items()} == {**dict.fromkeys(responses, 404), "assign": 403}
    for response in responses.values():
        assert not any(word in response.content.decode() for word in PERSONAL)
    assert AuditEntry.objects.filter(actor_id=tracer.pk, action=Action.DENIED).count() == len(responses)
    mine = Case.objects.get(pk=w.mine.pk)
    assert (mine.status, mine.owner_id) == (w.mine.status, users[Role.CASE_INVESTIGATOR].pk)
    assert (LabResult.objects.count(), Exposure.objects.count()) == (labs_before, contacts_before)
    # The contact they follow is theirs in full, with the id of the case it came from.
    contact = client.get(f"/api/contacts/{w.contact.pk}")
    assert contact.status_code == 200 and contact.json()["case_id"] == w.mine.pk
    assert client.get(f"/api/persons/{w.contact.person_id}").status_code == 200


def test_the_cases_owner_keeps_writing_to_the_case(world, users, session_client):
    client = session_client(users[Role.CASE_INVESTIGATOR])
    w = world
    assert client.post_json(f"/api/cases/{w.mine.pk}/status", {"status": "attempting", "reason": "Calling"}).status_code == 200
    added = client.post_json(
        f"/api/cases/{w.mine.pk}/contacts",
        {"person": {"first_name": "New", "last_name": "Contact"}, "last_exposure_date": w.contact.last_exposure_date.isoformat()},
    )
    assert added.status_code == 201, added.content
    lab = {"specimen_collection_date": w.mine.specimen_collection_date.isoformat(), "test_loinc": "94500-6", "result": "negative"}
    assert client.post_json(f"/api/persons/{w.mine.person_id}/lab-results", lab).status_code == 201


# Who saw this person: every list and search names the records it returned


def _who_saw(object_type, pk):
    return set(
        AuditEntry.objects.filter(object_type=object_type, object_id=str(pk), channel="api").values_list("actor_id", "action")
    )


@pytest.mark.parametrize(
    ("path", "record_type"),
    [("/api/cases", "case"), ("/api/contacts", "contact"), ("/api/persons", "person"), ("/api/lab-results", "lab_result")],
)
def test_every_api_list_records_which_records_it_returned(world, users, session_client, path, record_type):
    epidemiologist = users[Role.EPIDEMIOLOGIST]
    returned = [item["id"] for item in session_client(epidemiologist).get(f"{path}?page_size=100").json()["items"]]
    assert returned
    for pk in returned:
        assert _who_saw(record_type, pk) == {(epidemiologist.pk, Action.READ)}, (record_type, pk)
        entry = AuditEntry.objects.get(object_type=record_type, object_id=str(pk), channel="api")
        assert entry.detail == "in an API list (page 1)"


def test_a_person_search_records_who_was_found_under_their_jurisdiction(world, users, session_client, county):
    investigator = users[Role.CASE_INVESTIGATOR]
    found = session_client(investigator).post_json("/api/persons/search", {"last_name": "Mineiro"}).json()["items"]
    assert [p["id"] for p in found] == [world.mine.person_id]
    entry = AuditEntry.objects.get(object_type="person", object_id=str(world.mine.person_id), action=Action.SEARCH)
    assert (entry.actor_id, entry.jurisdiction_id, entry.fields) == (investigator.pk, county.pk, ["last_name"])
    assert "Mineiro" not in entry.detail


def test_a_page_of_a_hundred_records_is_recorded_whole_however_long_the_ids(world, users, token_client, make_person, county):
    for n in range(105):
        make_person(county, first_name=f"P{n}", last_name="Listed")
    supervisor = users[Role.SUPERVISOR]
    body = token_client(supervisor).get("/api/persons?page_size=100&page=1").json()
    returned = {item["id"] for item in body["items"]}
    assert len(returned) == 100
    recorded = set(
        AuditEntry.objects.filter(object_type="person", actor_id=supervisor.pk, channel="api").values_list("object_id", flat=True)
    )
    assert recorded == {str(pk) for pk in returned}


def test_a_record_out_of_reach_and_an_id_that_does_not_exist_get_the_same_answer(world, make_user, other_county, token_client):
    """Nothing tells an outsider which ids exist; the trail still records the refusal of the real one."""
    outsider = make_user(Role.CASE_INVESTIGATOR, other_county)
    client = token_client(outsider)
    missing = Case.objects.order_by("-pk").first().pk + 1000
    hidden, absent = client.get(f"/api/cases/{world.mine.pk}"), client.get(f"/api/cases/{missing}")
    assert (
        (hidden.status_code, hidden.json())
        == (absent.status_code, absent.json())
        == (404, {"detail": "Not found.", "field": None})
    )
    denied = AuditEntry.objects.filter(action=Action.DENIED, actor_id=outsider.pk)
    assert list(denied.values_list("object_type", "object_id")) == [("case", str(world.mine.pk))]
