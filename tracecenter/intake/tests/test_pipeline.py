"""Feeds end to end: raw storage, duplicates, crash recovery, matching, corrections, cases."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.db import connection

from conftest import run_background_work
from tracecenter.cases.models import Case, CaseActivity
from tracecenter.core import clock
from tracecenter.intake.models import InboundMessage, LabResult, LabResultRevision
from tracecenter.intake.pipeline import Intake, message_fix_and_reprocess, problems_of, resume_pending, store_units
from tracecenter.intake.records import RawUnit
from tracecenter.intake.synthetic import Analyte, SyntheticReport, oru_r01
from tracecenter.people.merge import match_review_decide, person_merge_undo
from tracecenter.people.models import ContactPoint, MatchReview, Person, PersonMerge

pytestmark = pytest.mark.django_db


NAMES = ["Amara", "Bogdan", "Chiara", "Dmitri", "Esperanza", "Farouk", "Giulia", "Hiroshi", "Ingrid"]


def stranger(n: int) -> dict[str, Any]:
    """Someone unrelated to the default patient and to the other strangers."""
    return {
        "first_name": NAMES[n],
        "last_name": f"{NAMES[-n - 1]}son",
        "date_of_birth": dt.date(1950 + n, n, n + 10),
        "phone": f"41355501{n:02d}",
    }


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
        **overrides,
    }
    return SyntheticReport(**values)


def ingest(root: Any, *reports: SyntheticReport | str) -> Intake:
    text = "".join(r if isinstance(r, str) else oru_r01(r) for r in reports)
    run = Intake(root=root)
    run.ingest_bytes(text.encode(), filename="feed.hl7")
    run.finish()
    run_background_work()  # what the workers do next: positives open cases
    return run


def test_a_positive_opens_a_case_on_the_right_person_with_the_infectious_period(state, county):
    run = ingest(state, report())
    assert (run.report.accepted, run.report.results["positive"], Case.objects.count()) == (1, 1, 1)
    lab = LabResult.objects.get()
    person = lab.person
    assert (person.first_name, person.last_name, person.date_of_birth) == ("William", "Okafor", dt.date(1979, 4, 2))
    assert person.jurisdiction == county  # PID-11.9 "North" is North County
    assert lab.source == "hl7v2" and lab.condition == "covid-19" and lab.status == "final"
    case = Case.objects.get(person=person)
    # No onset known: the infectious period is counted from the specimen (2 days before it).
    assert case.specimen_collection_date == clock.today() - dt.timedelta(days=3)
    assert case.infectious_start == case.specimen_collection_date - dt.timedelta(days=2)
    message = InboundMessage.objects.get()
    assert message.state == "processed" and message.control_id == "MSG00001" and message.outcome["lab_results"] == [lab.pk]


@pytest.mark.parametrize(("sent", "stored"), [("SPA^Spanish^HL70296", "es"), ("^criollo haitiano", "ht"), ("", "en")])
def test_the_patients_language_is_stored_as_its_iso_code(state, sent, stored):
    pid = oru_r01(report()).split("\r")[1]
    fields = pid.split("|") + [""] * (16 - len(pid.split("|")))
    fields[15] = sent
    ingest(state, oru_r01(report()).replace(pid, "|".join(fields)))
    assert Person.objects.get().preferred_language == stored


def test_a_negative_is_kept_on_the_person_without_a_case(state):
    run = ingest(state, report(analytes=[Analyte(result="negative")]))
    assert run.report.results["negative"] == 1
    assert LabResult.objects.get().result == "negative"
    assert not Case.objects.exists()


def test_the_same_message_twice_is_one_result_and_one_duplicate(state):
    first = ingest(state, report())
    again = ingest(state, report(), report())
    assert first.report.accepted == 1
    assert (again.report.messages, again.report.duplicates, again.report.accepted) == (2, 2, 0)
    assert LabResult.objects.count() == 1 and InboundMessage.objects.count() == 1 and Case.objects.count() == 1


def test_a_crash_after_storing_loses_nothing_and_doubles_nothing(state):
    units = [RawUnit(i, oru_r01(report(i, **stranger(i))), f"message {i}") for i in range(1, 6)]
    # What a crash leaves behind: every unit stored and committed, none processed.
    stored, _duplicates, _earlier = store_units(units=units, fmt="hl7v2", batch=None, jurisdiction=state)
    assert {s.message.state for s in stored} == {"received"}
    assert resume_pending(root=state) == 5
    assert LabResult.objects.count() == 5
    # The sender resends the whole file: all duplicates, nothing new.
    run = Intake(root=state)
    run.ingest_units(units, fmt="hl7v2")
    run_background_work()
    assert (run.report.duplicates, LabResult.objects.count(), Case.objects.count()) == (5, 5, 5)


def test_a_resend_of_a_stored_but_unprocessed_message_processes_it_once(state):
    units = [RawUnit(1, oru_r01(report()), "message 1")]
    store_units(units=units, fmt="hl7v2", batch=None, jurisdiction=state)
    run = Intake(root=state)
    run.ingest_units(units, fmt="hl7v2")
    assert (run.report.resumed, run.report.accepted, run.report.duplicates) == (1, 1, 0)
    assert LabResult.objects.count() == 1


def test_a_known_person_is_matched_through_a_nickname_and_their_new_phone_is_added(state):
    ingest(state, report(1))
    run = ingest(state, report(2, first_name="Bill", phone="6175550199", analytes=[Analyte(result="negative")]))
    assert (run.report.persons_matched, run.report.persons_created) == (1, 0)
    person = Person.objects.get()
    assert person.lab_results.count() == 2
    phones = set(ContactPoint.objects.filter(person=person, kind="phone").values_list("value", flat=True))
    assert phones == {"+16175550134", "+16175550199"}


def test_two_new_people_in_one_file_who_are_one_person_become_one_record(state):
    run = ingest(state, report(1), report(2, analytes=[Analyte(result="negative")]))
    assert (run.report.persons_created, run.report.persons_matched) == (1, 1)
    assert Person.objects.count() == 1


def test_twins_are_not_merged(state):
    ingest(state, report(1, first_name="Kwame", sex="M"))
    ingest(state, report(2, first_name="Kofi", sex="M"))
    assert Person.objects.count() == 2


def test_a_doubtful_match_makes_a_new_record_and_a_review_that_merges_and_undoes(state, users):
    ingest(state, report(1))
    # Same name, no birth date, another phone and street: possibly the same person, not surely.
    run = ingest(
        state, report(2, date_of_birth=None, phone="6175550199", street="40 Elm St", analytes=[Analyte(result="negative")])
    )
    assert run.report.persons_review == 1
    review = MatchReview.objects.get()
    incoming, candidate = review.incoming, review.candidate
    assert incoming.pk != candidate.pk and review.status == "open"
    assert all("value" not in field for field in review.comparison)  # outcomes and weights only
    supervisor = users["supervisor"]
    match_review_decide(actor=supervisor, review=review, same_person=True)
    assert set(LabResult.objects.values_list("person_id", flat=True)) == {candidate.pk}
    incoming.refresh_from_db()
    assert incoming.merged_into_id == candidate.pk
    person_merge_undo(actor=supervisor, merge=PersonMerge.objects.get())
    assert LabResult.objects.filter(person=incoming).count() == 1
    assert LabResult.objects.filter(person=candidate).count() == 1
    incoming.refresh_from_db()
    assert incoming.merged_into_id is None
    review.refresh_from_db()
    assert review.status == "open"


def test_a_correction_updates_the_result_and_tells_the_case(state):
    ingest(state, report(1))
    run = ingest(state, report(2, accession="ACC00001", analytes=[Analyte(result="negative", status="C")]))
    assert run.report.corrections == 1
    lab = LabResult.objects.get()
    assert (lab.result, lab.status) == ("negative", "corrected")
    assert LabResultRevision.objects.get(lab_result=lab).previous["result"] == "positive"
    case = Case.objects.get()
    summaries = [line.line.lower() for line in CaseActivity.objects.filter(case=case)]
    assert any("corrected from positive to negative" in s for s in summaries)


def test_entered_in_error_retracts_the_result(state):
    ingest(state, report(1))
    run = ingest(state, report(2, accession="ACC00001", analytes=[Analyte(result="positive", status="W")]))
    assert run.report.retractions == 1
    assert LabResult.objects.get().status == "retracted"
    assert any("retracted" in line.line for line in CaseActivity.objects.all())


def test_a_correction_to_positive_opens_the_case(state):
    ingest(state, report(1, analytes=[Analyte(result="negative")]))
    assert not Case.objects.exists()
    ingest(state, report(2, accession="ACC00001", analytes=[Analyte(result="positive", status="C")]))
    assert Case.objects.count() == 1


def test_a_multiplex_panel_gives_one_result_per_analyte_and_only_covid_opens_a_case(state):
    run = ingest(
        state,
        report(analytes=[Analyte("85477-8", "positive"), Analyte("85478-6", "negative"), Analyte("94500-6", "negative")]),
    )
    assert dict(run.report.results) == {"positive": 1, "negative": 2}
    assert set(LabResult.objects.values_list("condition", "result")) == {
        ("influenza", "positive"),
        ("influenza", "negative"),
        ("covid-19", "negative"),
    }
    assert not Case.objects.exists()


def test_an_unknown_result_code_is_flagged_never_counted(state):
    run = ingest(state, report(analytes=[Analyte(result="1234^Mystery^SCT")]))
    lab = LabResult.objects.get()
    assert (lab.result, run.report.results["unknown"]) == ("unknown", 1)
    assert "1234" in lab.review_reason
    assert not Case.objects.exists()


def test_a_rejected_message_is_kept_with_its_reason_and_can_be_fixed(state, users):
    broken = oru_r01(report(first_name="", last_name=""))
    run = ingest(state, broken)
    assert run.report.rejected == 1
    [rejection] = run.report.rejections
    assert rejection["location"] == "PID-5" and rejection["file"] == "feed.hl7" and rejection["message"] == 1
    message = InboundMessage.objects.get()
    assert message.state == "rejected" and problems_of(message)[0].location == "PID-5"
    fixed_text = broken.replace(
        "PID|1||ACC00001^^^Example Reference Lab&22D0999999&CLIA^PI||^^^^^^L", "PID|1||ACC00001^^^X^PI||Okafor^William^^^^^L"
    )
    fixed = message_fix_and_reprocess(actor=users["supervisor"], message=message, text=fixed_text.replace("\r", "\n"))
    assert fixed.state == "processed" and fixed.replaces_id == message.pk
    message.refresh_from_db()
    assert message.state == "replaced" and message.raw == broken  # the original is kept as received
    run_background_work()
    assert Case.objects.count() == 1


def test_the_raw_message_cannot_be_changed_through_the_model(state):
    ingest(state, report())
    message = InboundMessage.objects.get()
    message.raw = "MSH|changed"
    with pytest.raises(ValueError, match="cannot change"):
        message.save()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is a PostgreSQL trigger")
def test_postgresql_refuses_to_change_or_delete_a_raw_message(state):
    from django.db import DatabaseError, transaction

    ingest(state, report())
    message = InboundMessage.objects.get()
    with pytest.raises(DatabaseError), transaction.atomic():
        InboundMessage.objects.filter(pk=message.pk).update(raw="x")
    with pytest.raises(DatabaseError), transaction.atomic():
        InboundMessage.objects.filter(pk=message.pk).delete()


def test_patient_details_are_encrypted_in_the_raw_store(state):
    ingest(state, report(first_name="Zebediah", last_name="Quartermaine"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT raw, problems, warnings FROM intake_inboundmessage")
        rows = cursor.fetchall()
    assert rows and not any("Quartermaine" in (value or "") for row in rows for value in row)


def test_a_file_that_is_not_a_lab_format_is_kept_and_reported(state):
    run = Intake(root=state)
    run.ingest_bytes(b"\x00\x01\x02 binary", filename="photo.jpg")
    run.finish()
    assert run.report.rejected == 1 and run.report.file_errors[0]["problems"][0]["code"] == "unknown_format"
    assert InboundMessage.objects.get().state == "rejected"


def test_a_batch_with_one_bad_message_accepts_the_others(state):
    good = [report(i, **stranger(i)) for i in range(1, 4)]
    bad = oru_r01(report(9)).replace("ORU^R01^ORU_R01", "ORM^O01^ORM_O01")
    run = ingest(state, good[0], bad, good[1], good[2])
    assert (run.report.accepted, run.report.rejected) == (3, 1)
    assert run.report.rejections[0]["message"] == 2 and run.report.rejections[0]["location"] == "MSH-9"


def test_the_report_serialises_to_json(state):
    run = ingest(state, report())
    data = json.loads(json.dumps(run.report.as_dict()))
    assert data["results"] == {"positive": 1, "negative": 0, "inconclusive": 0, "unknown": 0}


def test_a_doubtful_match_within_one_file_is_queued_against_the_record_made_moments_before(state):
    run = ingest(
        state,
        report(1),
        report(2, date_of_birth=None, phone="6175550199", street="40 Elm St", analytes=[Analyte(result="negative")]),
    )
    assert (run.report.persons_created, run.report.persons_review) == (2, 1)
    review = MatchReview.objects.get()
    assert review.candidate.lab_results.get().result == "positive"
    assert review.incoming.lab_results.get().result == "negative"


def test_a_correction_in_the_same_file_as_the_original_leaves_one_corrected_result(state):
    run = ingest(state, report(1), report(2, accession="ACC00001", analytes=[Analyte(result="negative", status="C")]))
    assert (run.report.corrections, run.report.failed, dict(run.report.results)) == (1, 0, {"positive": 0, "negative": 1})
    lab = LabResult.objects.get()
    assert (lab.result, lab.status) == ("negative", "corrected")
    assert not Case.objects.exists()


def test_a_birth_date_that_is_no_real_date_is_kept_as_received_and_compared_as_a_typo(state):
    from tracecenter.people import matching
    from tracecenter.people.identity import identity_of

    sent = oru_r01(report(1, analytes=[Analyte(result="negative")]))
    assert "|19790402|" in sent
    run = ingest(state, sent.replace("|19790402|", "|19790431|"))  # April has no 31st
    assert run.report.persons_created == 1
    person = Person.objects.get()
    assert (person.date_of_birth, person.date_of_birth_as_written) == (None, "19790431")
    # Against the real date one digit away, the date is a typo (evidence), not missing (none).
    real = matching.identity_from(first_name="William", last_name="Okafor", date_of_birth=dt.date(1979, 4, 1))
    assert matching.score(real, identity_of(person)).field("date_of_birth").outcome == "typo"
    # The digits are personal data like the date: encrypted at rest.
    with connection.cursor() as cursor:
        cursor.execute("SELECT date_of_birth_as_written FROM people_person WHERE id = %s", [person.pk])
        (stored,) = cursor.fetchone()
    assert "19790431" not in str(stored)
