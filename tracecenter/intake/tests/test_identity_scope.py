"""Intake matches against the whole state, but never links past what the batch's sender may see.

A county's upload that finds its patient in another county (or at the state) makes a new record
in the county and queues a review at a level whose reviewers see both records; a feed received
at state level keeps linking anywhere in the state.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.core import clock
from tracecenter.intake.models import LabResult
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.synthetic import Analyte, SyntheticReport, oru_r01
from tracecenter.people.merge import match_review_decide
from tracecenter.people.models import ContactPoint, MatchReview, Person

pytestmark = pytest.mark.django_db


def report(n: int = 1, **overrides: Any) -> SyntheticReport:
    values: dict[str, Any] = {
        "control_id": f"MSG{n:05d}",
        "first_name": "William",
        "last_name": "Okafor",
        "date_of_birth": dt.date(1979, 4, 2),
        "collected": clock.today() - dt.timedelta(days=3),
        "accession": f"ACC{n:05d}",
        "phone": "6175550134",
        "county": "North",
        "analytes": [Analyte(result="negative")],
        **overrides,
    }
    return SyntheticReport(**values)


def ingest(root: Any, *reports: SyntheticReport) -> Intake:
    run = Intake(root=root)
    run.ingest_bytes("".join(oru_r01(r) for r in reports).encode(), filename="feed.hl7")
    run.finish()
    run_background_work()
    return run


@pytest.fixture
def known_in_the_south(state, county, other_county):
    """William Okafor, known in South County from an earlier state feed (with his phone)."""
    ingest(state, report(1, county="South"))
    person = Person.objects.get()
    assert person.jurisdiction == other_county
    return person


def test_a_county_upload_never_links_a_result_to_a_person_of_another_county(county, state, known_in_the_south):
    run = ingest(county, report(2, county="", phone="6175550199"))
    assert (run.report.persons_matched, run.report.persons_created, run.report.persons_review) == (0, 1, 1)
    incoming = Person.objects.exclude(pk=known_in_the_south.pk).get()
    assert incoming.jurisdiction == county
    # The result stays on the county's record; the South's person gets neither it nor the new phone.
    assert LabResult.objects.filter(person=incoming).count() == 1
    assert LabResult.objects.filter(person=known_in_the_south).count() == 1
    assert not ContactPoint.objects.filter(person=known_in_the_south, value_bidx=ContactPoint.index_of("phone", "+16175550199"))
    review = MatchReview.objects.get()
    assert (review.incoming_id, review.candidate_id) == (incoming.pk, known_in_the_south.pk)
    assert review.jurisdiction == state  # where a reviewer sees both counties


def test_a_county_upload_never_links_to_a_person_kept_at_state_level(county, state):
    ingest(state, report(1, county="Nowhere"))  # no such county: the person stays at the state
    at_state = Person.objects.get()
    assert at_state.jurisdiction == state
    run = ingest(county, report(2, county=""))
    assert (run.report.persons_matched, run.report.persons_review) == (0, 1)
    assert MatchReview.objects.get().jurisdiction == state


def test_a_county_upload_still_links_a_known_person_of_its_own_county(county, state):
    ingest(state, report(1))  # North County
    run = ingest(county, report(2, county=""))
    assert (run.report.persons_matched, run.report.persons_created, run.report.persons_review) == (1, 0, 0)
    assert Person.objects.count() == 1 and LabResult.objects.count() == 2


def test_a_feed_received_at_state_level_still_links_anywhere_in_the_state(state, known_in_the_south):
    run = ingest(state, report(2, county="North"))
    assert (run.report.persons_matched, run.report.persons_created, run.report.persons_review) == (1, 0, 0)
    assert LabResult.objects.filter(person=known_in_the_south).count() == 2


def test_a_doubtful_match_between_two_counties_is_routed_to_the_state(state, known_in_the_south):
    run = ingest(state, report(2, county="North", date_of_birth=None, phone="6175550199", street="40 Elm St"))
    assert run.report.persons_review == 1
    review = MatchReview.objects.get()
    assert review.incoming.jurisdiction.name == "North County"
    assert review.jurisdiction == state


def test_a_doubtful_match_within_one_county_stays_with_the_county(state, county):
    ingest(state, report(1))
    ingest(state, report(2, date_of_birth=None, phone="6175550199", street="40 Elm St"))
    assert MatchReview.objects.get().jurisdiction == county


def test_only_a_reviewer_who_covers_both_records_may_decide(state, county, make_user, known_in_the_south):
    ingest(county, report(2, county=""))
    review = MatchReview.objects.get()
    for outsider in (make_user(Role.SUPERVISOR, county), make_user(Role.SUPERVISOR, known_in_the_south.jurisdiction)):
        with pytest.raises(PermissionDenied):
            match_review_decide(actor=outsider, review=review, same_person=True)
    review.refresh_from_db()
    assert review.status == "open"
    match_review_decide(actor=make_user(Role.SUPERVISOR, state), review=review, same_person=True)
    assert set(LabResult.objects.values_list("person_id", flat=True)) == {known_in_the_south.pk}
