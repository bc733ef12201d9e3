"""Contacts, contacts of contacts, the contact who becomes a case, places and attendance."""

import datetime as dt

import pytest
from django.utils import timezone

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case, CaseActivity, RuleSet
from tracecenter.contacts.models import Attendance, Event, Exposure, ExposureStatus, Place, PlaceKind
from tracecenter.contacts.services import (
    ExposureInput,
    PlaceInput,
    attendance_record,
    event_find_or_create,
    exposure_add,
    exposure_add_secondary,
    place_find_or_create,
    source_exposure_of,
)
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.core.models import EventDelivery, OutboxEvent
from tracecenter.intake.services import LabResultInput, lab_result_record
from tracecenter.people.identity import match_review_open
from tracecenter.people.merge import match_review_decide, person_merge_undo
from tracecenter.people.models import MatchReview, Person, PersonMerge
from tracecenter.people.services import PersonInput

DAY = dt.timedelta(days=1)


def days_ago(n):
    return clock.today() - n * DAY


def contact(first="Bruno", last="Okafor", dob=dt.date(1990, 5, 17), **more):
    return PersonInput(first_name=first, last_name=last, date_of_birth=dob, **more)


@pytest.fixture
def case(make_case, county, users):
    # Asymptomatic, specimen two days ago: infectious from four days ago to eight days ahead.
    return make_case(county, owner=users[Role.CASE_INVESTIGATOR], days_ago=2)


@pytest.fixture
def tracer(users):
    return users[Role.CONTACT_TRACER]


# Contacts of a case


def test_a_contact_inherits_the_cases_worker_and_quarantines_from_the_last_exposure(case, tracer):
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    assert exposure.quarantine_end == days_ago(1) + 14 * DAY  # the built-in default
    assert exposure.rules is None
    assert exposure.owner == case.owner and exposure.team == case.team
    assert exposure.jurisdiction == case.jurisdiction
    assert exposure.status == ExposureStatus.NEW


def test_quarantine_follows_the_rules_in_force_on_the_last_exposure(case, tracer, county, state):
    RuleSet.objects.create(jurisdiction=state, effective_from=dt.date(2020, 1, 1), quarantine_days=14)
    newer = RuleSet.objects.create(jurisdiction=county, effective_from=days_ago(2), quarantine_days=5)
    recent = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    assert recent.rules == newer
    assert recent.quarantine_end == days_ago(1) + 5 * DAY

    earlier = exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="Chidi", dob=dt.date(1992, 1, 2)),
        data=ExposureInput(last_exposure_date=days_ago(3)),
    )
    assert earlier.rules.jurisdiction == state  # the county's version was not yet in force on that day
    assert earlier.quarantine_end == days_ago(3) + 14 * DAY


@pytest.mark.parametrize("last_exposure_days_ago", [5, 30])
def test_an_exposure_before_the_infectious_period_is_refused_on_its_field(case, tracer, last_exposure_days_ago):
    with pytest.raises(DomainError) as caught:
        exposure_add(
            actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(last_exposure_days_ago))
        )
    assert caught.value.field == "last_exposure_date"
    assert case.infectious_start.isoformat() in caught.value.message
    assert not Exposure.objects.exists()
    assert not Person.objects.filter(pk__gt=case.person_id).exists()  # nobody created for a refused contact


def test_an_exposure_in_the_future_is_refused(case, tracer):
    with pytest.raises(DomainError) as caught:
        exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=clock.today() + DAY))
    assert caught.value.field == "last_exposure_date"


def test_a_first_exposure_after_the_last_is_refused(case, tracer):
    with pytest.raises(DomainError) as caught:
        exposure_add(
            actor=tracer,
            case=case,
            person=contact(),
            data=ExposureInput(last_exposure_date=days_ago(2), first_exposure_date=days_ago(1)),
        )
    assert caught.value.field == "first_exposure_date"


def test_the_same_contact_twice_is_refused(case, tracer):
    exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    with pytest.raises(DomainError) as caught:
        exposure_add(
            actor=tracer,
            case=case,
            person=contact(first="  bruno ", last="OKAFOR"),
            data=ExposureInput(last_exposure_date=days_ago(2)),
        )
    assert caught.value.field == "last_name"
    assert Exposure.objects.filter(case=case).count() == 1


def test_a_case_is_not_their_own_contact(case, tracer):
    with pytest.raises(DomainError):
        exposure_add(actor=tracer, case=case, person=case.person, data=ExposureInput(last_exposure_date=days_ago(1)))


def test_a_contact_entered_with_a_known_name_and_birth_date_is_a_new_record_as_entered(case, tracer, make_person, other_county):
    known = make_person(other_county, first_name="Zoë", last_name="Müller-Lang", date_of_birth=dt.date(1977, 9, 30))
    people_before = Person.objects.count()
    exposure = exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="zoe", last="Muller Lang", dob=dt.date(1977, 9, 30)),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    assert exposure.person != known  # never linked to someone the tracer cannot see
    assert Person.objects.count() == people_before + 1
    entered = Person.objects.get(pk=exposure.person_id)
    assert (entered.first_name, entered.last_name, entered.jurisdiction) == ("zoe", "Muller Lang", case.jurisdiction)
    assert not entered.contact_points.exists()  # nothing of the known person's record was copied


def test_a_contact_entered_with_a_known_name_and_phone_is_a_new_record_too(case, tracer, make_person, county):
    known = make_person(county, first_name="Bruno", last_name="Okafor", date_of_birth=None, phones=["(617) 555-0144"])
    exposure = exposure_add(
        actor=tracer,
        case=case,
        person=contact(dob=None, phones=["617 555 0144"]),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    assert exposure.person != known


def test_a_possible_match_goes_to_review_routed_where_a_supervisor_sees_both(case, tracer, make_person, other_county, state):
    known = make_person(other_county, first_name="Zoë", last_name="Müller-Lang", date_of_birth=dt.date(1977, 9, 30))
    exposure = exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="Zoe", last="Müller-Lang", dob=dt.date(1977, 9, 30), phones=["(617) 555-0134"]),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    # Nothing is looked up while the tracer waits: the check runs in the workers after the commit.
    assert not MatchReview.objects.exists()
    run_background_work()
    review = MatchReview.objects.get()
    assert (review.incoming_id, review.candidate_id) == (exposure.person_id, known.pk)
    assert review.jurisdiction == state  # the case's county and the other county: the state decides
    assert review.status == "open" and review.source == f"contact {exposure.pk}"
    assert all("value" not in field for field in review.comparison)
    assert AuditEntry.objects.filter(action="create", object_type="match_review", object_id=str(review.pk)).exists()


def test_a_possible_match_in_the_same_county_is_reviewed_by_the_county(case, tracer, make_person, county):
    known = make_person(county, first_name="Bruno", last_name="Okafor", date_of_birth=dt.date(1990, 5, 17))
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    run_background_work()
    review = MatchReview.objects.get()
    assert (review.incoming_id, review.candidate_id, review.jurisdiction) == (exposure.person_id, known.pk, county)


def test_a_contact_nobody_resembles_queues_no_review(case, tracer):
    exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    run_background_work()
    assert not MatchReview.objects.exists()


def test_the_cases_own_person_and_other_contacts_are_not_offered_for_review(case, tracer):
    first = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    # The same name and birth date, another phone: a second contact the tracer chose to enter (refused
    # only on an exact match); a review against the first could never be merged.
    exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="Bruno", last="Okafor", dob=dt.date(1990, 5, 18), phones=["(617) 555-0190"]),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    run_background_work()
    assert not MatchReview.objects.filter(candidate=first.person).exists()
    assert not MatchReview.objects.filter(candidate=case.person).exists()


def test_merging_after_review_moves_the_contact_to_the_known_person_and_back(
    case, tracer, make_person, other_county, state, make_user
):
    known = make_person(other_county, first_name="Zoë", last_name="Müller-Lang", date_of_birth=dt.date(1977, 9, 30))
    exposure = exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="Zoe", last="Muller-Lang", dob=dt.date(1977, 9, 30)),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    entered = exposure.person
    run_background_work()
    reviewer = make_user(Role.SUPERVISOR, state)
    match_review_decide(actor=reviewer, review=MatchReview.objects.get(), same_person=True)
    exposure.refresh_from_db()
    assert exposure.person_id == known.pk  # the merge movers carry the exposure to the kept record
    # The same contact entered again is still refused, judged on what the tracer entered.
    with pytest.raises(DomainError) as caught:
        exposure_add(
            actor=tracer,
            case=case,
            person=contact(first="Zoe", last="Muller-Lang", dob=dt.date(1977, 9, 30)),
            data=ExposureInput(last_exposure_date=days_ago(1)),
        )
    assert caught.value.field == "last_name" and "already a contact" in caught.value.message
    person_merge_undo(actor=reviewer, merge=PersonMerge.objects.get())
    exposure.refresh_from_db()
    assert exposure.person_id == entered.pk


def test_a_merge_that_would_put_one_person_twice_on_a_case_is_refused(case, tracer, county, make_user):
    one = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    two = exposure_add(
        actor=tracer,
        case=case,
        person=contact(first="Bruno", last="Okafor", dob=None, phones=["(617) 555-0190"]),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    review = match_review_open(
        jurisdiction_id=county.pk, incoming_id=two.person_id, candidate_id=one.person_id, score=9.0, comparison=[], source="t"
    )
    with pytest.raises(DomainError) as caught:
        match_review_decide(actor=make_user(Role.SUPERVISOR, county), review=review, same_person=True)
    assert "cannot be merged" in caught.value.message
    assert not PersonMerge.objects.exists()
    assert set(Exposure.objects.filter(case=case).values_list("person_id", flat=True)) == {one.person_id, two.person_id}


def test_a_merge_that_would_make_a_case_its_own_contact_is_refused(case, tracer, county, make_user):
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    review = match_review_open(
        jurisdiction_id=county.pk,
        incoming_id=exposure.person_id,
        candidate_id=case.person_id,
        score=9.0,
        comparison=[],
        source="t",
    )
    with pytest.raises(DomainError):
        match_review_decide(actor=make_user(Role.SUPERVISOR, county), review=review, same_person=True)
    exposure.refresh_from_db()
    assert exposure.person_id != case.person_id and not PersonMerge.objects.exists()


def test_entering_the_cases_own_person_as_a_contact_is_refused(case, tracer):
    person = case.person
    with pytest.raises(DomainError) as caught:
        exposure_add(
            actor=tracer,
            case=case,
            person=contact(first=person.first_name, last=person.last_name, dob=person.date_of_birth),
            data=ExposureInput(last_exposure_date=days_ago(1)),
        )
    assert "own contact" in caught.value.message


def test_a_namesake_with_another_birth_date_is_a_new_person(case, tracer, make_person, county):
    namesake = make_person(county, first_name="Bruno", last_name="Okafor", date_of_birth=dt.date(1950, 1, 1), phones=[])
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    assert exposure.person != namesake


def test_a_contact_of_a_contact_is_exposed_while_the_contact_may_be_infectious(case, tracer):
    first = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(3)))
    second = exposure_add_secondary(
        actor=tracer,
        parent=first,
        person=contact(first="Dalia", last="Haddad", dob=None),
        data=ExposureInput(last_exposure_date=days_ago(1)),
    )
    assert second.case is None
    assert second.parent_exposure == first
    assert second.quarantine_end == days_ago(1) + 14 * DAY
    assert list(first.secondary_exposures.all()) == [second]

    with pytest.raises(DomainError) as caught:  # before the contact's own exposure: could not have caught it from them
        exposure_add_secondary(
            actor=tracer,
            parent=first,
            person=contact(first="Emil", last="Novak", dob=None),
            data=ExposureInput(last_exposure_date=days_ago(4)),
        )
    assert caught.value.field == "last_exposure_date"
    with pytest.raises(DomainError) as caught:  # twice the same person
        exposure_add_secondary(
            actor=tracer, parent=first, person=second.person, data=ExposureInput(last_exposure_date=days_ago(1))
        )
    assert caught.value.field == "last_name"


def test_a_contact_who_tests_positive_becomes_a_case_linked_to_the_exposure(case, tracer):
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    lab_result_record(
        actor=None,
        person=exposure.person,
        data=LabResultInput(specimen_collection_date=clock.today(), test_loinc="94500-6", result="positive"),
    )
    # The chain runs in the workers: LabResultReceived opens the case, whose CaseOpened links the exposure.
    assert not Case.objects.filter(person=exposure.person).exists()
    run_background_work()
    new_case = Case.objects.get(person=exposure.person)
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.BECAME_CASE
    assert exposure.resulting_case == new_case
    assert source_exposure_of(new_case) == exposure
    delivered = set(EventDelivery.objects.filter(state="done").values_list("event__name", flat=True))
    assert {"LabResultReceived", "CaseOpened"} <= delivered
    assert not EventDelivery.objects.exclude(state="done").exists()
    assert OutboxEvent.objects.filter(name="ContactBecameCase", payload__exposure_id=exposure.pk).exists()


def test_a_contact_whose_specimen_predates_the_exposure_becomes_a_case_without_a_source(case, tracer):
    exposure = exposure_add(actor=tracer, case=case, person=contact(), data=ExposureInput(last_exposure_date=days_ago(1)))
    # The same person, with a specimen before the exposure: the exposure cannot explain this infection.
    lab_result_record(
        actor=None,
        person=exposure.person,
        data=LabResultInput(specimen_collection_date=days_ago(3), test_loinc="94500-6", result="positive"),
    )
    run_background_work()
    new_case = Case.objects.get(person=exposure.person)
    assert source_exposure_of(new_case) is None
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NEW and exposure.resulting_case is None


# Places and attendance


def test_a_place_is_found_again_by_name_and_street_whatever_the_case_and_spaces(county, tracer):
    first = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="Blue  Door Café", street="12 Main St"))
    again = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="blue door café ", street="12 MAIN ST"))
    elsewhere = place_find_or_create(
        actor=tracer, jurisdiction=county, data=PlaceInput(name="Blue Door Café", street="90 Elm St")
    )
    assert again == first
    assert elsewhere != first
    assert first.name == "Blue Door Café"
    assert Place.objects.count() == 2


def test_a_home_is_stored_encrypted_and_found_again_only_by_its_name_and_street(county, other_county, tracer):
    home = PlaceInput(name="The Okafors' flat", kind=PlaceKind.RESIDENCE, street="4 Linden  Court", city="Port Harbor")
    first = place_find_or_create(actor=tracer, jurisdiction=county, data=home)
    again = place_find_or_create(
        actor=tracer,
        jurisdiction=county,
        data=PlaceInput(name="the okafors' FLAT", kind=PlaceKind.RESIDENCE, street="4 linden court"),
    )
    another_home = place_find_or_create(
        actor=tracer, jurisdiction=county, data=PlaceInput(name="The Okafors' flat", kind=PlaceKind.RESIDENCE, street="9 Elm St")
    )
    elsewhere = place_find_or_create(actor=tracer, jurisdiction=other_county, data=home)
    # A public place of the same name and street is another place: a business is never matched to a home.
    public = place_find_or_create(
        actor=tracer,
        jurisdiction=county,
        data=PlaceInput(name="The Okafors' flat", kind=PlaceKind.OTHER, street="4 Linden Court"),
    )
    assert again == first
    assert len({first.pk, another_home.pk, elsewhere.pk, public.pk}) == 4
    stored = Place.objects.get(pk=first.pk)
    assert (stored.name, stored.street, stored.city, stored.postal_code) == ("", "", "", "")
    assert (stored.display_name, stored.display_street, stored.home_city) == (
        "The Okafors' flat",
        "4 Linden Court",
        "Port Harbor",
    )
    assert str(stored) == f"Residence {stored.pk}"
    assert (public.name, public.display_name, public.home_bidx) == ("The Okafors' flat", "The Okafors' flat", "")


def test_the_database_refuses_a_home_with_its_name_in_clear(county):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(jurisdiction=county, kind=PlaceKind.RESIDENCE, name="The Okafors' flat")
    with pytest.raises(IntegrityError), transaction.atomic():
        Place.objects.create(jurisdiction=county, kind=PlaceKind.RESTAURANT, name="Blue Door", home_bidx="x" * 32)


def test_an_event_is_found_again_by_its_name_whatever_the_case_and_spaces(county, tracer):
    place = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="Choir hall", kind=PlaceKind.WORSHIP))
    starts = _at(days_ago(3), 18)
    first = event_find_or_create(place=place, name="Choir  rehearsal", starts_at=starts, ends_at=_at(days_ago(3), 20))
    again = event_find_or_create(place=place, name="choir rehearsal ", starts_at=starts, ends_at=_at(days_ago(3), 20))
    other = event_find_or_create(place=place, name="Bake sale", starts_at=starts, ends_at=_at(days_ago(3), 20))
    assert again == first and other != first
    assert Event.objects.get(pk=first.pk).name == "Choir rehearsal"


def test_a_visit_to_a_home_names_it_on_the_timeline_which_is_encrypted(case, tracer, county):
    from django.db import connection

    home = place_find_or_create(
        actor=tracer, jurisdiction=county, data=PlaceInput(name="Aunt Wilhelmina's", kind=PlaceKind.RESIDENCE)
    )
    attendance_record(actor=tracer, case=case, place=home, arrived_at=_at(days_ago(3), 18), left_at=_at(days_ago(3), 20))
    line = CaseActivity.objects.get(case=case, kind=CaseActivity.Kind.PLACE)
    assert line.line.startswith("Aunt Wilhelmina's ")
    with connection.cursor() as cursor:
        cursor.execute("SELECT summary FROM cases_caseactivity WHERE id = %s", [line.pk])
        assert "Wilhelmina" not in cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (PlaceInput(name="   "), "place_name"),
        (PlaceInput(name="x" * 201), "place_name"),
        (PlaceInput(name="Gym", kind="spaceship"), "place_kind"),
    ],
)
def test_a_place_without_a_proper_name_or_kind_is_refused(county, tracer, data, field):
    with pytest.raises(DomainError) as caught:
        place_find_or_create(actor=tracer, jurisdiction=county, data=data)
    assert caught.value.field == field


def _at(day, hour):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def test_an_attendance_inside_the_infectious_period_is_recorded(case, tracer, county):
    place = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="Choir hall"))
    visit = attendance_record(actor=tracer, case=case, place=place, arrived_at=_at(days_ago(3), 18), left_at=_at(days_ago(3), 20))
    assert visit.person == case.person and visit.jurisdiction == case.jurisdiction
    assert Attendance.objects.filter(case=case).count() == 1


@pytest.mark.parametrize(("arrive_days_ago", "field"), [(20, "arrived_at"), (-1, "arrived_at")])
def test_an_attendance_outside_the_infectious_period_or_in_the_future_is_refused(case, tracer, county, arrive_days_ago, field):
    place = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="Choir hall"))
    day = days_ago(arrive_days_ago)
    with pytest.raises(DomainError) as caught:
        attendance_record(actor=tracer, case=case, place=place, arrived_at=_at(day, 9), left_at=_at(day, 10))
    assert caught.value.field == field
    assert not Attendance.objects.exists()


def test_an_attendance_that_ends_before_it_starts_is_refused(case, tracer, county):
    place = place_find_or_create(actor=tracer, jurisdiction=county, data=PlaceInput(name="Choir hall"))
    with pytest.raises(DomainError) as caught:
        attendance_record(actor=tracer, case=case, place=place, arrived_at=_at(days_ago(2), 10), left_at=_at(days_ago(2), 9))
    assert caught.value.field == "left_at"
