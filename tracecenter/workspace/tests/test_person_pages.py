"""The person pages: search, one person, corrections, reported cases, contacts added directly."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.people.models import ContactPoint, MatchReview, Person
from tracecenter.people.services import PersonInput

SEARCH = reverse("workspace:person_search")


@pytest.fixture
def world(users, make_case, county):
    """An investigator's case (Ana García) and a contact of it (William Brown) followed by the tracer."""
    investigator, tracer = users[Role.CASE_INVESTIGATOR], users[Role.CONTACT_TRACER]
    case = make_case(county, owner=investigator)
    exposure = exposure_add(
        actor=investigator,
        case=case,
        person=PersonInput(first_name="William", last_name="Brown", phones=["617-555-0199"], date_of_birth=dt.date(1990, 6, 2)),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    exposure.owner = tracer
    exposure.save()
    return {"case": case, "exposure": exposure, "investigator": investigator, "tracer": tracer}


def _search(client: Client, **data: object):
    return client.post(SEARCH, data)


def _found(response) -> list[int]:
    return [p.pk for p, _phones in response.context["rows"]]


def test_a_misspelled_name_finds_the_person(client: Client, world):
    client.force_login(world["investigator"])
    response = _search(client, first_name="Ana", last_name="Garsia")
    assert response.status_code == 200
    assert _found(response) == [world["case"].person_id]
    assert "Ana García" in response.content.decode()


def test_a_nickname_and_an_accentless_name_find_the_person(client: Client, world):
    client.force_login(world["tracer"])
    assert _found(_search(client, first_name="Bill", last_name="Brown")) == [world["exposure"].person_id]
    client.force_login(world["investigator"])
    assert _found(_search(client, last_name="GARCIA")) == [world["case"].person_id]


def test_a_phone_written_any_way_finds_the_person(client: Client, world):
    client.force_login(world["tracer"])
    assert _found(_search(client, phone="(617) 555 0199")) == [world["exposure"].person_id]
    assert _found(_search(client, phone="+1 617-555-0199")) == [world["exposure"].person_id]
    assert _found(_search(client, phone="617-555-0100")) == []


def test_a_birth_date_a_case_number_and_a_contact_number_find_the_person(client: Client, world):
    client.force_login(world["investigator"])
    assert _found(_search(client, date_of_birth="1985-03-14")) == [world["case"].person_id]
    assert _found(_search(client, case_number=world["case"].pk)) == [world["case"].person_id]
    assert _found(_search(client, contact_number=world["exposure"].pk)) == [world["exposure"].person_id]


def test_the_closest_match_comes_first(client: Client, world, make_person, county, users):
    supervisor = users[Role.SUPERVISOR]
    make_person(county, first_name="Anna", last_name="Garcia", date_of_birth=dt.date(1970, 1, 1), phones=[], emails=[])
    client.force_login(supervisor)
    found = _found(_search(client, first_name="Ana", last_name="García", date_of_birth="1985-03-14"))
    assert found[0] == world["case"].person_id


def test_a_tracer_finds_only_the_persons_of_their_work(client: Client, world):
    client.force_login(world["tracer"])
    # The tracer follows the contact, not the case: its person is not theirs to find.
    assert _found(_search(client, first_name="Ana", last_name="García")) == []
    assert _found(_search(client, case_number=world["case"].pk)) == []


def test_persons_of_another_jurisdiction_are_never_shown(client: Client, world, make_case, other_county, users):
    elsewhere = make_case(other_county, first_name="Ana", last_name="García")
    for role in (Role.SUPERVISOR, Role.EPIDEMIOLOGIST, Role.CASE_INVESTIGATOR):
        client.force_login(users[role])
        found = _found(_search(client, first_name="Ana", last_name="García"))
        assert elsewhere.person_id not in found, role
        assert _found(_search(client, case_number=elsewhere.pk)) == [], role
        response = client.get(reverse("workspace:person_detail", args=[elsewhere.person_id]))
        assert response.status_code == 404, role


def test_each_person_shown_by_a_search_is_audited_without_the_values_searched(client: Client, world, make_person, county, users):
    supervisor = users[Role.SUPERVISOR]
    twin = make_person(county, first_name="Ana", last_name="García", date_of_birth=dt.date(1985, 3, 14), phones=[], emails=[])
    client.force_login(supervisor)
    before = AuditEntry.objects.count()
    response = _search(client, first_name="Ana", last_name="García")
    assert sorted(_found(response)) == sorted([world["case"].person_id, twin.pk])
    entries = AuditEntry.objects.order_by("pk")[before:]
    search = [e for e in entries if e.action == "search"]
    assert len(search) == 1 and search[0].fields == ["first_name", "last_name"]
    shown = {e.object_id for e in entries if e.action == "read" and e.object_type == "person"}
    assert shown == {str(world["case"].person_id), str(twin.pk)}
    for entry in entries:
        assert "García" not in str(entry.__dict__) and "Ana" not in entry.detail


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"last_name": "x" * 101}, "last_name"),
        ({"last_name": "Gar\x07cia"}, "last_name"),
        ({"last_name": "Gar\x00cia"}, "last_name"),
        ({"phone": "1" * 41}, "phone"),
        ({"phone": "not a phone"}, "phone"),
        ({"first_name": "Ana"}, "last_name"),
        ({}, "last_name"),
        ({"case_number": "1; DROP TABLE people_person"}, "case_number"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ],
)
def test_a_bad_search_is_refused_naming_the_field(client: Client, world, data, field):
    client.force_login(world["investigator"])
    response = _search(client, **data)
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors


def test_a_search_that_looks_like_sql_is_just_a_name_that_finds_nobody(client: Client, world):
    client.force_login(world["investigator"])
    response = _search(client, last_name="' OR '1'='1' --", first_name="x' UNION SELECT *")
    assert response.status_code == 200 and _found(response) == []
    assert "0 persons found" in response.content.decode()  # said, not left blank
    assert Person.objects.count() == 2


def test_search_results_are_paged(client: Client, world, make_person, county, users):
    for n in range(52):
        make_person(county, first_name="Ana", last_name="García", date_of_birth=dt.date(1960, 1, 1) + dt.timedelta(days=n))
    client.force_login(users[Role.SUPERVISOR])
    first = _search(client, last_name="García")
    assert first.context["page"].paginator.count == 53 and len(_found(first)) == 50
    second = _search(client, last_name="García", page=2)
    assert len(_found(second)) == 3 and not set(_found(first)) & set(_found(second))


def test_a_search_by_get_shows_the_form_and_searches_nothing(client: Client, world):
    client.force_login(world["investigator"])
    response = client.get(SEARCH, {"last_name": "García"})
    assert response.status_code == 200 and "rows" not in response.context


# --- The person page ------------------------------------------------------------------------------


def test_the_cases_owner_sees_the_person_with_their_case_results_and_contacts(client: Client, world):
    client.force_login(world["investigator"])
    response = client.get(reverse("workspace:person_detail", args=[world["case"].person_id]))
    assert response.status_code == 200
    record = response.context["record"]
    assert [c.pk for c in record.cases] == [world["case"].pk]
    assert len(record.lab_results) == 1 and [e.pk for e in record.named_contacts] == [world["exposure"].pk]
    html = response.content.decode()
    assert "William Brown" in html and "+16175550134" in html
    kinds = {item.kind for item in response.context["timeline"]}
    assert {"lab_result", "named_contact", "opened"} <= kinds


def test_a_contact_named_by_two_cases_is_one_person_with_both_exposures(client: Client, world, make_case, county, users):
    second_case = make_case(county, owner=world["investigator"], first_name="Rosa", last_name="Díaz")
    person = world["exposure"].person
    second = exposure_add(
        actor=world["investigator"],
        case=second_case,
        person=person,
        data=ExposureInput(last_exposure_date=second_case.specimen_collection_date),
    )
    second.owner = world["tracer"]
    second.save()
    client.force_login(users[Role.SUPERVISOR])
    response = client.get(reverse("workspace:person_detail", args=[person.pk]))
    assert sorted(e.pk for e in response.context["record"].exposures) == sorted([world["exposure"].pk, second.pk])
    # In the tracer's "My work", the person once, with both contacts.
    client.force_login(world["tracer"])
    html = client.get(reverse("workspace:my_work")).content.decode()
    assert html.count("William Brown") == 1
    for exposure in (world["exposure"], second):
        assert reverse("workspace:contact_detail", args=[exposure.pk]) in html
    assert [len(group) for _p, group in client.get(reverse("workspace:my_work")).context["contacts_by_person"]] == [2]


def test_a_tracer_sees_the_exposure_they_follow_not_the_persons_other_records(client: Client, world, make_case, county, users):
    # The contact is also a case of their own, owned by someone else, and a contact of another case.
    other_case = make_case(county, owner=world["investigator"], first_name="Rosa", last_name="Díaz")
    person = world["exposure"].person
    elsewhere = exposure_add(
        actor=world["investigator"],
        case=other_case,
        person=person,
        data=ExposureInput(last_exposure_date=other_case.specimen_collection_date),
    )
    own_case = Case.objects.create(person=person, jurisdiction=county, owner=world["investigator"])
    client.force_login(world["tracer"])
    response = client.get(reverse("workspace:person_detail", args=[person.pk]))
    assert response.status_code == 200
    record = response.context["record"]
    assert [e.pk for e in record.exposures] == [world["exposure"].pk]
    assert record.cases == [] and record.named_contacts == []
    html = response.content.decode()
    assert f"Contact {elsewhere.pk}" not in html and f"Case {own_case.pk}" not in html and "Ana García" not in html


def test_roles_without_records_and_epidemiologists_cannot_edit(client: Client, world, users):
    url = reverse("workspace:person_edit", args=[world["exposure"].person_id])
    for role in (Role.EPIDEMIOLOGIST, Role.AUDITOR, Role.ADMINISTRATOR):
        client.force_login(users[role])
        assert client.post(url, {"first_name": "X", "last_name": "Y"}).status_code == 403
    assert world["exposure"].person.first_name == "William"


# --- Editing a person ----------------------------------------------------------------------------


def _edit_data(person: Person, **changes: object) -> dict[str, object]:
    phones = [p.value for p in person.contact_points.filter(kind=ContactPoint.Kind.PHONE)]
    data: dict[str, object] = {
        "first_name": person.first_name,
        "middle_name": person.middle_name,
        "last_name": person.last_name,
        "date_of_birth": person.date_of_birth.isoformat() if person.date_of_birth else "",
        "sex": person.sex,
        "preferred_language": person.preferred_language,
        "phones": "\n".join(phones),
        "emails": "",
        "street": person.street,
        "city": person.city,
        "state": person.state,
        "postal_code": person.postal_code,
    }
    data.update(changes)
    return data


def test_a_tracer_edits_a_phone_and_the_audit_names_the_field_not_the_value(client: Client, world):
    person = world["exposure"].person
    client.force_login(world["tracer"])
    url = reverse("workspace:person_edit", args=[person.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, _edit_data(person, phones="617 555 0142"))
    assert response.status_code == 302
    assert [p.value for p in person.contact_points.all()] == ["+16175550142"]
    entry = AuditEntry.objects.filter(action="update", object_type="person").latest("pk")
    assert entry.object_id == str(person.pk) and entry.fields == ["phones"]
    assert entry.actor_username == world["tracer"].username
    assert "555" not in str(entry.__dict__)
    # The new phone finds them.
    assert _found(_search(client, phone="6175550142")) == [person.pk]


def test_a_name_correction_keeps_the_earlier_name_in_the_history(client: Client, world):
    person = world["exposure"].person
    client.force_login(world["investigator"])
    response = client.post(reverse("workspace:person_edit", args=[person.pk]), _edit_data(person, last_name="Browne"))
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.last_name == "Browne"
    assert [n.full_name for n in person.name_changes.all()] == ["William Brown"]
    entry = AuditEntry.objects.filter(action="update", object_type="person").latest("pk")
    assert entry.fields == ["last_name"] and "Brown" not in str(entry.__dict__)
    html = client.get(reverse("workspace:person_detail", args=[person.pk])).content.decode()
    assert "William Browne" in html and "William Brown (" in html
    # Found under the corrected name; a phone change alone writes no name history.
    assert _found(_search(client, first_name="William", last_name="Browne")) == [person.pk]
    client.post(reverse("workspace:person_edit", args=[person.pk]), _edit_data(person, phones="617 555 0142"))
    assert person.name_changes.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phones": "12"}, "phones"),
        ({"emails": "not-an-address"}, "emails"),
        ({"first_name": "\x07"}, "first_name"),
        ({"first_name": "x" * 201}, "first_name"),
        ({"state": "Massachusetts"}, "state"),
        ({"postal_code": "ABCDE"}, "postal_code"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"phones": "\n".join(f"617-555-01{n:02d}" for n in range(11))}, "phones"),
    ],
)
def test_a_bad_correction_is_refused_on_its_field_and_nothing_changes(client: Client, world, changes, field):
    person = world["exposure"].person
    client.force_login(world["tracer"])
    response = client.post(reverse("workspace:person_edit", args=[person.pk]), _edit_data(person, **changes))
    assert response.status_code == 400
    assert response.context["form"].errors.get(field), response.context["form"].errors
    person.refresh_from_db()
    assert person.first_name == "William" and person.state == ""


def test_a_tracer_cannot_edit_the_person_of_a_case_they_only_see_in_part(client: Client, world):
    client.force_login(world["tracer"])
    response = client.post(
        reverse("workspace:person_edit", args=[world["case"].person_id]), _edit_data(world["case"].person, phones="")
    )
    assert response.status_code == 404
    assert world["case"].person.contact_points.count() == 2  # a phone and an e-mail, untouched


# --- A reported case, a contact added directly ---------------------------------------------------


def _report(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Marta",
        "last_name": "Quispe",
        "sex": "F",
        "preferred_language": "es",
        "phones": "617-555-0177",
        "condition": "measles",
        "source": "provider",
        "reporter": "North Clinic",
        "specimen_collection_date": (clock.today() - dt.timedelta(days=1)).isoformat(),
    }
    data.update(changes)
    return data


def test_an_investigator_reports_a_case_for_a_person_entered_and_owns_it(client: Client, world):
    client.force_login(world["investigator"])
    response = client.post(reverse("workspace:case_report"), _report())
    assert response.status_code == 302
    case = Case.objects.latest("pk")
    assert response["Location"] == reverse("workspace:case_detail", args=[case.pk])
    assert case.owner == world["investigator"] and case.status == CaseStatus.ASSIGNED
    assert case.person.full_name == "Marta Quispe" and case.infectious_start is not None
    assert case.condition == "measles"
    assert "North Clinic" in case.activities.get(kind="opened").summary
    assert client.post(reverse("workspace:case_report"), _report(condition="plague")).status_code == 400


def test_a_reported_persons_match_elsewhere_goes_to_review_and_reveals_nothing(client: Client, world, make_person, other_county):
    known = make_person(other_county, first_name="Marta", last_name="Quispe", phones=["617-555-0177"], emails=[])
    client.force_login(world["investigator"])
    response = client.post(reverse("workspace:case_report"), _report())
    assert response.status_code == 302
    case = Case.objects.latest("pk")
    assert case.person_id != known.pk  # created as entered
    run_background_work()
    review = MatchReview.objects.get(incoming=case.person)
    assert review.candidate_id == known.pk


def test_a_case_for_a_person_found_by_the_search(client: Client, world, users):
    person = world["exposure"].person
    client.force_login(users[Role.SUPERVISOR])
    url = reverse("workspace:case_report") + f"?person={person.pk}"
    assert "William Brown" in client.get(url).content.decode()
    response = client.post(
        url, {"person": person.pk, "condition": "covid-19", "source": "phone", "symptom_onset": clock.today().isoformat()}
    )
    assert response.status_code == 302
    case = Case.objects.get(person=person)
    assert case.symptom_onset == clock.today()
    assert case.owner is None and case.status == CaseStatus.NEW  # a supervisor's report waits for assignment
    # A second report for the same person while the case is open is refused.
    again = client.post(
        url, {"person": person.pk, "condition": "covid-19", "source": "phone", "symptom_onset": clock.today().isoformat()}
    )
    assert again.status_code == 400 and Case.objects.filter(person=person).count() == 1


def test_a_reported_case_needs_a_date_and_a_providers_name(client: Client, world):
    client.force_login(world["investigator"])
    missing = client.post(reverse("workspace:case_report"), _report(specimen_collection_date=""))
    assert missing.status_code == 400 and missing.context["form"].errors.get("specimen_collection_date")
    anonymous = client.post(reverse("workspace:case_report"), _report(reporter=""))
    assert anonymous.status_code == 400 and anonymous.context["form"].errors.get("reporter")
    assert (
        Case.objects.count() == 1 and not Person.objects.filter(last_name_bidx=Person(last_name="Quispe").last_name_bidx).exists()
    )


def test_a_person_the_user_may_not_see_cannot_be_chosen_for_a_report(client: Client, world, users):
    client.force_login(world["investigator"])
    other = Person.objects.create(jurisdiction=world["case"].jurisdiction, first_name="Hidden", last_name="Person")
    response = client.post(reverse("workspace:case_report"), {"person": other.pk, "source": "phone"})
    assert response.status_code == 404
    assert not Case.objects.filter(person=other).exists()


def test_a_contact_is_added_directly_to_a_case(client: Client, world):
    client.force_login(world["investigator"])
    case = world["case"]
    response = client.post(
        reverse("workspace:contact_add", args=[case.pk]),
        {
            "first_name": "Lena",
            "last_name": "Ortiz",
            "sex": "U",
            "preferred_language": "en",
            "phones": "617-555-0166",
            "relationship": "household_member",
            "setting": "household",
            "proximity": "within_6ft",
            "last_exposure_date": case.specimen_collection_date.isoformat(),
        },
    )
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    exposure = Exposure.objects.latest("pk")
    assert exposure.case == case and exposure.person.full_name == "Lena Ortiz"
    bad = client.post(reverse("workspace:contact_add", args=[case.pk]), {"first_name": "Lena", "last_name": "Ortiz"})
    assert bad.status_code == 400 and bad.context["form"].errors.get("last_exposure_date")


def test_a_record_opened_by_breaking_the_glass_shows_its_person_read_only(client: Client, world, make_case, county, users):
    from tracecenter.accounts.services import access_grant_break_glass

    other = make_case(county, owner=users[Role.SUPERVISOR], first_name="Rosa", last_name="Díaz")
    tracer = world["tracer"]
    client.force_login(tracer)
    person_url = reverse("workspace:person_detail", args=[other.person_id])
    assert client.get(person_url).status_code == 404
    access_grant_break_glass(actor=tracer, record_type="cases.case", object_id=other.pk, reason="Hotline callback")
    response = client.get(person_url)
    assert response.status_code == 200 and not response.context["record"].may_edit
    assert client.get(reverse("workspace:person_edit", args=[other.person_id])).status_code == 404


def test_a_known_person_found_by_the_search_is_added_to_a_second_case_as_the_same_person(
    client: Client, world, make_case, county
):
    second_case = make_case(county, owner=world["investigator"], first_name="Rosa", last_name="Díaz")
    person = world["exposure"].person
    client.force_login(world["investigator"])
    page = client.get(reverse("workspace:contact_add", args=[second_case.pk])).content.decode()
    assert f"{SEARCH}?for_case={second_case.pk}" in page
    found = client.post(SEARCH, {"for_case": second_case.pk, "first_name": "Bill", "last_name": "Brown"})
    add_url = reverse("workspace:contact_add", args=[second_case.pk]) + f"?person={person.pk}"
    assert add_url in found.content.decode()
    response = client.post(
        add_url,
        {
            "person": person.pk,
            "relationship": "friend",
            "setting": "social",
            "proximity": "within_6ft",
            "last_exposure_date": second_case.specimen_collection_date.isoformat(),
        },
    )
    assert response.status_code == 302
    assert sorted(Exposure.objects.filter(person=person).values_list("case_id", flat=True)) == sorted(
        [world["case"].pk, second_case.pk]
    )
    assert Person.objects.filter(first_name_bidx=person.first_name_bidx, last_name_bidx=person.last_name_bidx).count() == 1


def test_a_search_for_a_case_the_user_may_not_edit_offers_no_adding(client: Client, world):
    client.force_login(world["tracer"])
    found = client.post(SEARCH, {"for_case": world["case"].pk, "first_name": "Bill", "last_name": "Brown"})
    assert found.context["for_case"] is None
    assert reverse("workspace:contact_add", args=[world["case"].pk]) not in found.content.decode()


def test_a_surname_alone_misspelled_finds_the_person(client: Client, world):
    client.force_login(world["investigator"])
    assert _found(_search(client, last_name="Garsia")) == [world["case"].person_id]


def test_a_birth_date_received_that_is_no_real_date_is_shown_to_be_asked_and_corrected(client: Client, world):
    person = Person.objects.get(pk=world["case"].person_id)
    person.date_of_birth, person.date_of_birth_as_written = None, "19850631"
    person.save()
    client.force_login(world["investigator"])
    page = client.get(reverse("workspace:person_detail", args=[person.pk])).content.decode()
    assert "19850631" in page and "not a real date" in page


def test_the_preferred_language_reads_as_its_name_in_the_readers_language(client: Client, world):
    person = Person.objects.get(pk=world["case"].person_id)
    person.preferred_language = "es"
    person.save()
    client.force_login(world["investigator"])
    url = reverse("workspace:person_detail", args=[person.pk])
    assert "<dd>Spanish</dd>" in client.get(url).content.decode()
    assert "<dd>Español</dd>" in client.get(url, HTTP_ACCEPT_LANGUAGE="es").content.decode()
