"""Case services: rules by jurisdiction and date, status changes, assignment, transfer, opening from lab results."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from conftest import run_background_work
from tracecenter.accounts.models import Jurisdiction
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import Action, AuditEntry
from tracecenter.cases.models import Case, CaseActivity, CaseStatus, CaseStatusChange, RuleSet
from tracecenter.cases.services import (
    CaseFacts,
    case_assign,
    case_change_status,
    case_record_facts,
    case_transfer,
)
from tracecenter.core import clock, events
from tracecenter.core.errors import DomainError
from tracecenter.core.models import EventDelivery, OutboxEvent
from tracecenter.intake.events import LabResultReceived
from tracecenter.intake.services import LabResultInput, lab_result_record

DAY = dt.timedelta(days=1)


def days_ago(n):
    return clock.today() - n * DAY


def record_result(person, *, specimen_days_ago=1, result="positive", capture=None):
    """A lab result recorded; with `capture`, what the workers would do after the commit is done too."""
    data = LabResultInput(specimen_collection_date=days_ago(specimen_days_ago), test_loinc="94500-6", result=result)
    if capture is None:
        return lab_result_record(actor=None, person=person, data=data)
    with capture(execute=True):
        lab = lab_result_record(actor=None, person=person, data=data)
    run_background_work()
    return lab


def facts(onset=None, asymptomatic=False, notes=""):
    return CaseFacts(
        symptom_onset=onset,
        asymptomatic=asymptomatic,
        symptoms=[] if asymptomatic else ["fever"],
        hospitalized=False,
        congregate_setting=False,
        notes=notes,
    )


def rule(jurisdiction, effective_from, **days):
    return RuleSet.objects.create(jurisdiction=jurisdiction, effective_from=effective_from, **days)


# Rules by jurisdiction and date


def test_a_case_without_any_configured_rules_gets_the_default_ten_days(make_case, county):
    case = make_case(county, days_ago=2)
    assert case.rules is None
    assert case.isolation_end == case.specimen_collection_date + 10 * DAY
    assert case.infectious_start == case.specimen_collection_date - 2 * DAY


def test_a_county_rule_overrides_the_states(make_case, state, county):
    rule(state, dt.date(2020, 1, 1), isolation_days=10)
    county_rule = rule(county, dt.date(2020, 1, 1), isolation_days=5, days_before_specimen=3)
    case = make_case(county, days_ago=2)
    assert case.rules == county_rule
    assert case.isolation_end == case.specimen_collection_date + 5 * DAY
    assert case.infectious_start == case.specimen_collection_date - 3 * DAY


def test_a_case_in_a_county_without_rules_inherits_the_states(make_case, state, county, other_county):
    state_rule = rule(state, dt.date(2020, 1, 1), isolation_days=7)
    rule(county, dt.date(2020, 1, 1), isolation_days=5)
    case = make_case(other_county, days_ago=2)
    assert case.rules == state_rule
    assert case.isolation_end == case.specimen_collection_date + 7 * DAY


def test_a_county_rule_not_yet_in_force_leaves_the_states_in_force(make_case, state, county):
    state_rule = rule(state, dt.date(2020, 1, 1), isolation_days=10)
    rule(county, days_ago(1), isolation_days=5)
    case = make_case(county, days_ago=3)
    assert case.rules == state_rule


def test_a_case_is_judged_by_the_version_in_force_on_its_onset_date_even_after_a_newer_one(make_case, county, users):
    old = rule(county, dt.date(2020, 1, 1), isolation_days=10, days_before_onset=2)
    new = rule(county, days_ago(5), isolation_days=5, days_before_onset=1)
    case = make_case(county, days_ago=3)
    assert case.rules == new  # asymptomatic so far: judged on its specimen date

    onset = days_ago(20)
    case = case_record_facts(actor=users[Role.CASE_INVESTIGATOR], case=case, facts=facts(onset=onset))
    case.refresh_from_db()
    assert case.rules == old
    assert case.infectious_start == onset - 2 * DAY
    assert case.isolation_end == onset + 10 * DAY


def test_an_asymptomatic_case_is_judged_on_its_specimen_date(make_case, county, users):
    rule(county, dt.date(2020, 1, 1), isolation_days=10, days_before_specimen=2)
    rule(county, days_ago(5), isolation_days=5, days_before_specimen=1)
    case = make_case(county, days_ago=10)
    case = case_record_facts(actor=users[Role.CASE_INVESTIGATOR], case=case, facts=facts(asymptomatic=True))
    assert case.rules.isolation_days == 10
    assert case.isolation_end == case.specimen_collection_date + 10 * DAY


def test_a_future_onset_is_refused(make_case, county, users):
    case = make_case(county)
    with pytest.raises(DomainError) as caught:
        case_record_facts(actor=users[Role.CASE_INVESTIGATOR], case=case, facts=facts(onset=clock.today() + DAY))
    assert caught.value.field == "symptom_onset"


# Status changes


def test_a_status_change_needs_a_reason(make_case, county, users):
    case = make_case(county)
    with pytest.raises(DomainError) as caught:
        case_change_status(actor=users[Role.SUPERVISOR], case=case, to_status=CaseStatus.ATTEMPTING, reason="   ")
    assert caught.value.field == "reason"
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW
    assert not CaseStatusChange.objects.filter(case=case).exists()


def test_a_status_change_records_its_history(make_case, county, users):
    case = make_case(county)
    actor = users[Role.CASE_INVESTIGATOR]
    case_change_status(actor=actor, case=case, to_status=CaseStatus.ATTEMPTING, reason="Called, no answer")
    case_change_status(actor=actor, case=case, to_status=CaseStatus.INTERVIEWED, reason="Reached  on second call")
    history = list(CaseStatusChange.objects.filter(case=case).values_list("from_status", "to_status", "reason", "changed_by"))
    assert history == [
        ("new", "attempting", "Called, no answer", actor.pk),
        ("attempting", "interviewed", "Reached on second call", actor.pk),
    ]
    assert CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.STATUS).count() == 2
    case.refresh_from_db()
    assert case.status == CaseStatus.INTERVIEWED


def test_a_status_change_not_in_the_transitions_is_refused(make_case, county, users):
    case = make_case(county)
    with pytest.raises(DomainError) as caught:
        case_change_status(actor=users[Role.CASE_INVESTIGATOR], case=case, to_status=CaseStatus.RELEASED, reason="Done")
    assert caught.value.field == "status"
    case.refresh_from_db()
    assert case.status == CaseStatus.NEW


def test_a_closed_case_is_reopened_only_by_someone_who_may_assign(make_case, county, users):
    case = make_case(county)
    case_change_status(actor=users[Role.SUPERVISOR], case=case, to_status=CaseStatus.CLOSED, reason="Duplicate")
    with pytest.raises(PermissionDenied):
        case_change_status(
            actor=users[Role.CASE_INVESTIGATOR], case=case, to_status=CaseStatus.ASSIGNED, reason="Not a duplicate"
        )
    case.refresh_from_db()
    case_change_status(actor=users[Role.SUPERVISOR], case=case, to_status=CaseStatus.ASSIGNED, reason="Not a duplicate")
    assert case.status == CaseStatus.ASSIGNED


def _interviewed(case, actor, onset):
    case_record_facts(actor=actor, case=case, facts=facts(onset=onset))
    case_change_status(actor=actor, case=case, to_status=CaseStatus.INTERVIEWED, reason="Interview done")
    return case


def test_a_release_before_the_onset_is_refused_and_leaves_the_case_unchanged(make_case, county, users):
    actor = users[Role.CASE_INVESTIGATOR]
    case = _interviewed(make_case(county, days_ago=3), actor, onset=days_ago(2))
    with pytest.raises(DomainError) as caught:
        case_change_status(actor=actor, case=case, to_status=CaseStatus.RELEASED, reason="Isolation over", on=days_ago(3))
    assert caught.value.field == "status"
    assert case.status == CaseStatus.INTERVIEWED  # the object the caller holds is not left half-changed
    assert case.released_on is None
    case.refresh_from_db()
    assert case.status == CaseStatus.INTERVIEWED


def test_an_onset_after_the_release_is_refused(make_case, county, users):
    actor = users[Role.CASE_INVESTIGATOR]
    case = _interviewed(make_case(county, days_ago=20), actor, onset=days_ago(20))
    case_change_status(actor=actor, case=case, to_status=CaseStatus.RELEASED, reason="Isolation over", on=days_ago(5))
    assert case.released_on == days_ago(5)
    with pytest.raises(DomainError) as caught:
        case_record_facts(actor=actor, case=case, facts=facts(onset=days_ago(4)))
    assert caught.value.field == "symptom_onset"


# Assignment and transfer


def test_only_a_supervisor_assigns_cases(make_case, county, users):
    case = make_case(county)
    for role in (Role.CASE_INVESTIGATOR, Role.CONTACT_TRACER, Role.EPIDEMIOLOGIST, Role.ADMINISTRATOR):
        with pytest.raises(PermissionDenied):
            case_assign(actor=users[role], case=case, assignee=users[Role.CASE_INVESTIGATOR])
    case.refresh_from_db()
    assert case.owner is None


def test_assigning_a_new_case_moves_it_to_assigned_with_a_recorded_change(make_case, county, users, team):
    case = make_case(county)
    investigator = users[Role.CASE_INVESTIGATOR]
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=investigator)
    case.refresh_from_db()
    assert (case.owner, case.team, case.status) == (investigator, team, CaseStatus.ASSIGNED)
    assert CaseStatusChange.objects.filter(case=case, to_status=CaseStatus.ASSIGNED).exists()
    assert AuditEntry.objects.filter(action=Action.ASSIGN, object_type="case", object_id=str(case.pk)).exists()


def test_a_case_is_not_given_to_a_user_of_another_jurisdiction(make_case, county, other_county, users, make_user):
    case = make_case(county)
    outsider = make_user(Role.CASE_INVESTIGATOR, other_county)
    with pytest.raises(DomainError) as caught:
        case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=outsider)
    assert caught.value.field == "assignee"
    case.refresh_from_db()
    assert case.owner is None


def test_a_case_is_not_given_to_a_role_that_takes_no_cases(make_case, county, users):
    case = make_case(county)
    with pytest.raises(DomainError) as caught:
        case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.EPIDEMIOLOGIST])
    assert caught.value.field == "assignee"


def test_a_transfer_keeps_the_history_in_the_timeline_and_the_audit_trail(make_case, county, other_county, users):
    investigator = users[Role.CASE_INVESTIGATOR]
    case = make_case(county, owner=investigator)
    case_transfer(actor=users[Role.SUPERVISOR], case=case, to=other_county, reason="Moved to her sister's")
    case.refresh_from_db()
    assert case.jurisdiction == other_county
    assert case.person.jurisdiction == other_county
    assert case.owner is None and case.team is None
    kinds = set(CaseActivity.objects.filter(case=case).values_list("kind", flat=True))
    assert {CaseActivity.Kind.OPENED, CaseActivity.Kind.TRANSFER} <= kinds
    transfer = CaseActivity.objects.get(case=case, kind=CaseActivity.Kind.TRANSFER)
    assert "North County" in transfer.summary and "South County" in transfer.summary
    entry = AuditEntry.objects.get(action=Action.TRANSFER, object_type="case", object_id=str(case.pk))
    assert entry.detail == f"from jurisdiction {county.pk} to {other_county.pk}"
    assert entry.fields == ["jurisdiction"]


def test_a_transfer_needs_a_supervisor_a_reason_and_another_jurisdiction(make_case, county, other_county, users):
    case = make_case(county)
    with pytest.raises(PermissionDenied):
        case_transfer(actor=users[Role.CASE_INVESTIGATOR], case=case, to=other_county, reason="Moved")
    with pytest.raises(DomainError) as caught:
        case_transfer(actor=users[Role.SUPERVISOR], case=case, to=other_county, reason=" ")
    assert caught.value.field == "reason"
    with pytest.raises(DomainError) as caught:
        case_transfer(actor=users[Role.SUPERVISOR], case=case, to=county, reason="Moved")
    assert caught.value.field == "jurisdiction"


# Opening cases from lab results


def test_a_second_positive_within_90_days_attaches_to_the_same_case(make_case, county, django_capture_on_commit_callbacks):
    case = make_case(county, days_ago=30)
    second = record_result(case.person, specimen_days_ago=1, capture=django_capture_on_commit_callbacks)
    assert Case.objects.filter(person=case.person).count() == 1
    assert second in case.lab_results.all()
    assert case.lab_results.count() == 2
    assert CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.LAB_RESULT).exists()


def test_an_earlier_specimen_attached_later_moves_the_case_dates(make_case, county, django_capture_on_commit_callbacks):
    case = make_case(county, days_ago=3)
    record_result(case.person, specimen_days_ago=6, capture=django_capture_on_commit_callbacks)
    case.refresh_from_db()
    assert case.specimen_collection_date == days_ago(6)
    assert case.isolation_end == days_ago(6) + 10 * DAY


def test_a_positive_more_than_90_days_later_opens_a_new_case(make_case, county, django_capture_on_commit_callbacks):
    first = make_case(county, days_ago=120)
    record_result(first.person, specimen_days_ago=1, capture=django_capture_on_commit_callbacks)
    assert Case.objects.filter(person=first.person).count() == 2


def test_a_late_reported_positive_from_long_before_the_open_case_does_not_rewrite_its_dates(
    make_case, county, django_capture_on_commit_callbacks
):
    case = make_case(county, days_ago=2)
    record_result(case.person, specimen_days_ago=200, capture=django_capture_on_commit_callbacks)
    case.refresh_from_db()
    assert case.specimen_collection_date == days_ago(2)
    assert case.isolation_end == days_ago(2) + 10 * DAY
    assert case.lab_results.count() == 1
    assert Case.objects.filter(person=case.person).count() == 2  # the earlier episode is a case of its own


def test_a_positive_after_the_case_was_closed_opens_a_new_case(make_case, county, users, django_capture_on_commit_callbacks):
    first = make_case(county, days_ago=10)
    case_change_status(actor=users[Role.SUPERVISOR], case=first, to_status=CaseStatus.CLOSED, reason="Done")
    record_result(first.person, specimen_days_ago=1, capture=django_capture_on_commit_callbacks)
    assert Case.objects.filter(person=first.person).count() == 2


@pytest.mark.parametrize("result", ["negative", "inconclusive", "unknown"])
def test_a_result_that_is_not_positive_opens_no_case(make_person, county, result, django_capture_on_commit_callbacks):
    person = make_person(county)
    record_result(person, result=result, capture=django_capture_on_commit_callbacks)
    assert not Case.objects.filter(person=person).exists()
    # Nothing acts on a negative: the event is kept, and no delivery is made for it at all.
    event = OutboxEvent.objects.get(name="LabResultReceived")
    assert not EventDelivery.objects.filter(event=event).exists()


def test_the_lab_result_event_is_idempotent(make_person, county):
    person = make_person(county)
    lab = record_result(person)
    row = OutboxEvent.objects.get(name="LabResultReceived", payload__lab_result_id=lab.pk)
    assert not Case.objects.filter(person=person).exists()  # nothing is delivered inline

    run_background_work()
    # Delivered again (an administrator's retry, or a delivery whose done-mark was lost): still one case.
    EventDelivery.objects.filter(event=row).update(state="pending", next_attempt_at=clock.now())
    run_background_work()
    # And the same fact published a second time (a feed resending the result).
    events.publish(
        LabResultReceived(lab_result_id=lab.pk, person_id=person.pk, jurisdiction_id=county.pk, classification="positive")
    )
    run_background_work()
    assert not EventDelivery.objects.exclude(state="done").exists()

    assert Case.objects.filter(person=person).count() == 1
    case = Case.objects.get(person=person)
    assert list(case.lab_results.all()) == [lab]
    assert CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.OPENED).count() == 1


def test_a_failing_subscriber_leaves_its_delivery_pending_for_a_later_attempt(make_person, county, monkeypatch):
    person = make_person(county)
    from tracecenter.cases import services

    def broken(**kwargs):
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr(services, "case_open_for_positive", broken)
        record_result(person)
        run_background_work()
    delivery = EventDelivery.objects.get(event__name="LabResultReceived")
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("builtins.RuntimeError at ")
    assert "database went away" not in delivery.last_error  # a message may quote personal data: never kept
    assert delivery.next_attempt_at > clock.now()
    assert not Case.objects.filter(person=person).exists()

    EventDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=clock.now())  # its time has come
    run_background_work()
    assert Case.objects.filter(person=person).count() == 1
    assert not EventDelivery.objects.exclude(state="done").exists()


def test_a_case_opened_from_a_result_takes_its_jurisdiction_from_the_person(make_case, other_county):
    case = make_case(other_county)
    assert case.jurisdiction == other_county
    assert isinstance(case.jurisdiction, Jurisdiction)
    assert AuditEntry.objects.filter(action=Action.CREATE, object_type="case", object_id=str(case.pk)).exists()


def test_merging_two_records_with_open_cases_tells_both_cases(make_case, county, users, django_capture_on_commit_callbacks):
    from tracecenter.people.merge import person_merge

    first = make_case(county, first_name="Marisol", date_of_birth=dt.date(1990, 5, 6))
    second = make_case(county, first_name="Marisol", date_of_birth=dt.date(1990, 6, 5))
    with django_capture_on_commit_callbacks(execute=True):
        merge = person_merge(actor=users["supervisor"], survivor=first.person, merged=second.person)
    run_background_work()
    assert Case.objects.filter(person=first.person).count() == 2
    for case, other in ((first, second), (second, first)):
        summaries = [line.line for line in CaseActivity.objects.filter(case=case)]
        assert any(f"merge {merge.pk}" in s and f"#{other.pk}" in s for s in summaries), summaries


def test_merging_a_record_without_a_case_says_nothing_to_the_case(
    make_case, make_person, county, users, django_capture_on_commit_callbacks
):
    from tracecenter.people.merge import person_merge

    case = make_case(county)
    before = CaseActivity.objects.filter(case=case).count()
    with django_capture_on_commit_callbacks(execute=True):
        person_merge(actor=users["supervisor"], survivor=case.person, merged=make_person(county, first_name="Anita"))
    run_background_work()
    assert CaseActivity.objects.filter(case=case).count() == before


def test_a_batch_of_positives_opens_the_same_cases_as_one_by_one(make_person, make_case, county, other_county):
    from tracecenter.cases.services import cases_open_for_positives

    earlier = make_case(county, first_name="Known", days_ago=5)  # has an open case: joins it
    twice = make_person(county, first_name="Twice")
    plain = [make_person(j, first_name=f"New{i}") for i, j in enumerate((county, other_county, county))]
    labs = [record_result(p, specimen_days_ago=2) for p in plain]
    labs += [record_result(twice, specimen_days_ago=3), record_result(twice, specimen_days_ago=1)]
    labs += [record_result(earlier.person, specimen_days_ago=1)]
    negative = record_result(make_person(county, first_name="Neg"), result="negative")
    opened = cases_open_for_positives(lab_result_ids=[lab.pk for lab in [*labs, negative, *earlier.lab_results.all()]])

    assert len(opened) == 4  # three new people, and "Twice" once
    for person in plain:
        [case] = Case.objects.filter(person=person)
        assert case.jurisdiction_id == person.jurisdiction_id and case.status == CaseStatus.NEW
        assert case.specimen_collection_date == days_ago(2) and case.isolation_end == days_ago(2) + 10 * DAY
        assert case.infectious_start == days_ago(4) and case.priority == 3  # a fresh specimen, under 65
        assert CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.OPENED).count() == 1
        assert AuditEntry.objects.filter(action=Action.CREATE, object_type="case", object_id=str(case.pk)).count() == 1
        assert OutboxEvent.objects.filter(name="CaseOpened", payload__case_id=case.pk).count() == 1
    [both] = Case.objects.filter(person=twice)
    assert both.lab_results.count() == 2 and both.specimen_collection_date == days_ago(3)
    assert Case.objects.filter(person=earlier.person).count() == 1 and earlier.lab_results.count() == 2
    assert not Case.objects.filter(lab_results=negative).exists()
    # Delivered again (a retry after a crash): nothing more.
    assert cases_open_for_positives(lab_result_ids=[lab.pk for lab in labs]) == []
    assert Case.objects.count() == 5
