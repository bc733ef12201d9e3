"""Attempts: the wrap-up's disposition decides what follows (done, a retry on the cadence, a callback at the
person's time, unreachable after the last attempt), inside the person's calling window, back to the owner first."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_background_work
from tracecenter.accounts.models import Jurisdiction
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case, CaseActivity, CaseStatus
from tracecenter.cases.services import case_change_status
from tracecenter.contacts.models import ExposureActivity, ExposureStatus
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.core.calling_windows import CallingWindow, person_zone
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput
from tracecenter.routing import attempts, cadence
from tracecenter.routing.attempts import work_wrap_up
from tracecenter.routing.claims import agent_set_state, offer_accept, route, work_next
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Attempt, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")


# --- The calling window and the cadence, pure.


def test_a_window_is_the_hours_in_the_persons_local_time_across_a_daylight_saving_change():
    window = CallingWindow(dt.time(9), dt.time(21), NEW_YORK)
    # 2026-03-08: clocks go forward at 2:00 in New York. 8:30 local is outside; it opens at 9:00 local (13:00 UTC).
    before = dt.datetime(2026, 3, 8, 12, 30, tzinfo=dt.UTC)
    assert not window.contains(before)
    assert window.next_open(before) == dt.datetime(2026, 3, 8, 13, 0, tzinfo=dt.UTC)
    # 21:30 local is closed until 9:00 the next morning.
    late = dt.datetime(2026, 3, 9, 1, 30, tzinfo=dt.UTC)
    assert window.next_open(late) == dt.datetime(2026, 3, 9, 13, 0, tzinfo=dt.UTC)
    with pytest.raises(ValueError):
        CallingWindow(dt.time(21), dt.time(9), NEW_YORK)


def test_the_persons_zone_comes_from_their_state_else_the_jurisdictions():
    assert person_zone("ca", "America/New_York") == "America/Los_Angeles"
    assert person_zone("", "America/Chicago") == "America/Chicago"
    assert person_zone("ZZ", "America/Chicago") == "America/Chicago"


def test_a_cadence_is_read_with_its_mistakes_named():
    assert cadence.parse("2, 3e") == (cadence.Step(dt.timedelta(hours=2)), cadence.Step(dt.timedelta(hours=3), evening=True))
    for bad, where in (("", "1 to"), ("2,x", "step 2"), ("2,-1", "step 2"), ("1," * 30 + "1", "1 to"), ("9999", "step 1")):
        with pytest.raises(cadence.CadenceError, match=where):
            cadence.parse(bad)


moments = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 12, 31), timezones=st.just(dt.UTC))
zones = st.sampled_from(["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "America/Phoenix", "Europe/Madrid"])


@settings(max_examples=300, deadline=None)
@given(
    last=moments,
    zone=zones,
    failed=st.integers(min_value=1, max_value=8),
    start=st.integers(min_value=6, max_value=12),
    length=st.integers(min_value=4, max_value=14),
)
def test_a_retry_is_never_sooner_than_its_gap_always_in_the_window_and_evening_steps_in_the_evening(
    last, zone, failed, start, length
):
    window = CallingWindow(dt.time(start), dt.time(min(start + length, 23)), ZoneInfo(zone))
    steps = cadence.parse("2,3e,16,3e")
    evening = dt.time(18)
    at = cadence.next_attempt(steps, failed=failed, last=last, window=window, evening_from=evening)
    step = steps[min(failed, len(steps)) - 1]
    assert at >= last + step.gap
    assert window.contains(at)
    if step.evening and window.end > evening:
        assert at.astimezone(ZoneInfo(zone)).time() >= evening
    # Not later than needed: at most a day and a half past the gap (the next evening, or the next window).
    assert at - (last + step.gap) <= dt.timedelta(hours=36)


# --- Wrap-up in the database.


@pytest.fixture
def tracer(make_user, county, team):
    user = make_user(Role.CASE_INVESTIGATOR, county, team)
    agent_set_state(actor=user, agent=user, state=AgentStateChoice.AVAILABLE)
    return user


def _held(case: Case, tracer) -> WorkItem:
    run_background_work()
    offer = Offer.objects.get(item__case=case, status=OfferStatus.PENDING)
    assert offer.agent == tracer
    return offer_accept(actor=tracer, offer_id=offer.pk)


def test_no_answer_brings_the_work_back_on_the_cadence_to_the_same_tracer_first(make_case, county, tracer, make_user, team):
    case = make_case(county)
    item = _held(case, tracer)
    other = make_user(Role.CASE_INVESTIGATOR, county, team)
    agent_set_state(actor=other, agent=other, state=AgentStateChoice.AVAILABLE)
    AgentStatus.objects.filter(user=other).update(idle_since=clock.now() - dt.timedelta(hours=3))  # idle far longer
    item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="no_answer")
    assert (item.status, item.attempts, item.failures, item.holder) == (WorkStatus.QUEUED, 1, 1, None)
    assert item.not_before is not None and item.not_before >= clock.now() + dt.timedelta(hours=2) - dt.timedelta(seconds=5)
    assert item.owner == tracer  # it comes back to the tracer who tried first
    case.refresh_from_db()
    assert case.status == CaseStatus.ATTEMPTING
    line = CaseActivity.objects.filter(case=case, kind=CaseActivity.Kind.ATTEMPT).get()
    assert line.code == "attempt"
    (attempt,) = Attempt.objects.filter(item=item)
    assert (attempt.number, attempt.disposition, attempt.agent, attempt.next_at) == (1, "no_answer", tracer, item.not_before)
    run_background_work()
    assert route() == []  # not before its time, though two tracers are free
    with time_machine.travel(item.not_before + dt.timedelta(seconds=1), tick=False):
        run_background_work()  # the task queued for that moment routes it
        offer = Offer.objects.get(item=item, status=OfferStatus.PENDING)
    assert offer.agent == tracer  # the owner first, although the other has waited longer


def test_a_callback_comes_back_at_the_persons_time_even_outside_the_window(make_case, county, tracer):
    Jurisdiction.objects.filter(pk=county.pk).update(calling_from=dt.time(9), calling_until=dt.time(21))
    afternoon = dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(14), tzinfo=NEW_YORK)
    with time_machine.travel(afternoon, tick=False):
        case = make_case(county)
        item = _held(case, tracer)
        with pytest.raises(DomainError) as caught:
            work_wrap_up(actor=tracer, item_id=item.pk, disposition="call_back")
        assert caught.value.field == "callback_at"
        for bad in (clock.now() - dt.timedelta(minutes=1), clock.now() + dt.timedelta(days=15)):
            with pytest.raises(DomainError) as caught:
                work_wrap_up(actor=tracer, item_id=item.pk, disposition="call_back", callback_at=bad)
            assert caught.value.field == "callback_at"
        # The person asks for 22:30 their time (after the jurisdiction's hours): they asked, so it is kept.
        asked = dt.datetime.combine(afternoon.date(), dt.time(22, 30), tzinfo=NEW_YORK)
        item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="call_back", callback_at=asked)
    assert (item.callback, item.not_before, item.failures) == (True, asked, 0)
    with time_machine.travel(asked - dt.timedelta(minutes=1), tick=False):
        run_background_work()
        assert route() == []
    with time_machine.travel(asked + dt.timedelta(seconds=5), tick=False):
        run_background_work()
        assert Offer.objects.get(item=item, status=OfferStatus.PENDING).agent == tracer


def test_work_outside_the_persons_calling_window_waits_for_it_to_open(make_case, county, tracer, make_person):
    Jurisdiction.objects.filter(pk=county.pk).update(calling_from=dt.time(9), calling_until=dt.time(21))
    # 23:00 in New York is 20:00 in Los Angeles: a Californian may be called, a New Yorker not.
    night = dt.datetime.combine(clock.today() + dt.timedelta(days=1), dt.time(23), tzinfo=NEW_YORK)
    with time_machine.travel(night, tick=False):
        new_yorker = make_case(county, first_name="Nora", state="NY")
        californian = make_case(county, first_name="Cal", state="CA")
        run_background_work()
        assert WorkItem.objects.get(case=californian).status == WorkStatus.OFFERED
        assert WorkItem.objects.get(case=new_yorker).status == WorkStatus.QUEUED
        assert WorkItem.objects.get(case=new_yorker).time_zone == "America/New_York"
    morning = dt.datetime.combine(night.date() + dt.timedelta(days=1), dt.time(9, 1), tzinfo=NEW_YORK)
    Offer.objects.filter(status=OfferStatus.PENDING).update(status=OfferStatus.WITHDRAWN)
    WorkItem.objects.filter(case=californian).update(status=WorkStatus.CANCELED)
    with time_machine.travel(morning, tick=False):
        assert [offer.item.case_id for offer in route()] == [new_yorker.pk]


def test_the_last_unanswered_attempt_makes_the_case_unreachable_and_ends_the_work(make_case, county, tracer):
    case = make_case(county)
    item = _held(case, tracer)
    for number in range(1, attempts.MAX_ATTEMPTS + 1):
        item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="voicemail" if number % 2 else "no_answer")
        if number < attempts.MAX_ATTEMPTS:
            assert item.status == WorkStatus.QUEUED
            with time_machine.travel(item.not_before + dt.timedelta(seconds=1), tick=False):
                run_background_work()
                item = offer_accept(actor=tracer, offer_id=Offer.objects.get(item=item, status=OfferStatus.PENDING).pk)
    assert (item.status, item.failures, item.close_reason) == (WorkStatus.COMPLETED, attempts.MAX_ATTEMPTS, "not reached")
    case.refresh_from_db()
    assert case.status == CaseStatus.UNREACHABLE
    assert Attempt.objects.filter(item=item).count() == attempts.MAX_ATTEMPTS


def test_reached_ends_the_work_declined_makes_the_case_refused(make_case, county, tracer):
    reached, declined = make_case(county, first_name="Ada"), make_case(county, first_name="Bea")
    item = _held(reached, tracer)
    assert work_wrap_up(actor=tracer, item_id=item.pk, disposition="reached").status == WorkStatus.COMPLETED
    item = _held(declined, tracer)
    work_wrap_up(actor=tracer, item_id=item.pk, disposition="declined")
    declined.refresh_from_db()
    assert declined.status == CaseStatus.REFUSED
    assert AgentStatus.objects.get(user=tracer).state == AgentStateChoice.AVAILABLE


def test_a_language_barrier_puts_the_work_back_at_once_for_someone_else(make_case, county, tracer, make_user, team):
    case = make_case(county)
    item = _held(case, tracer)
    other = make_user(Role.CASE_INVESTIGATOR, county, team)
    agent_set_state(actor=other, agent=other, state=AgentStateChoice.AVAILABLE)
    item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="language_barrier")
    assert item.excluded == [tracer.pk] and item.failures == 0
    run_background_work()
    assert Offer.objects.get(item=item, status=OfferStatus.PENDING).agent == other


def test_a_contacts_attempts_are_its_call_log_and_reaching_them_notifies(make_case, county, tracer, users):
    AgentStatus.objects.filter(user=tracer).update(state=AgentStateChoice.OFFLINE)
    case = make_case(county, owner=users[Role.CASE_INVESTIGATOR])
    case_change_status(actor=users[Role.CASE_INVESTIGATOR], case=case, to_status=CaseStatus.INTERVIEWED, reason="Interviewed")
    run_background_work()  # the interview's work is done
    agent_set_state(actor=tracer, agent=tracer, state=AgentStateChoice.AVAILABLE)
    exposure = exposure_add(
        actor=users[Role.CASE_INVESTIGATOR],
        case=case,
        person=PersonInput(first_name="Kai", last_name="Contact", phones=[]),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    run_background_work()
    # Not sticky to the owner it inherited from its case (who is not on shift): the next free tracer has it.
    offer = Offer.objects.get(item__exposure=exposure, status=OfferStatus.PENDING)
    assert offer.agent == tracer
    item = offer_accept(actor=tracer, offer_id=offer.pk)
    assert item.kind == WorkKind.CONTACT_NOTIFICATION
    item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="busy")
    assert item.not_before is not None and item.not_before <= clock.now() + dt.timedelta(minutes=16)
    assert item.owner_id == tracer.pk  # the retry goes back to the tracer who tried first
    with time_machine.travel(item.not_before + dt.timedelta(seconds=1), tick=False):
        (offer,) = route()
        item = offer_accept(actor=tracer, offer_id=offer.pk)
        item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="reached")
    assert item.status == WorkStatus.COMPLETED
    exposure.refresh_from_db()
    assert exposure.status == ExposureStatus.NOTIFIED
    outcomes = list(ExposureActivity.objects.filter(exposure=exposure, kind="call").values_list("outcome", flat=True))
    assert sorted(outcomes) == ["busy", "reached"]


def test_next_task_gives_the_tracer_the_work_the_rules_make_theirs_at_once(make_case, county, tracer):
    AgentStatus.objects.filter(user=tracer).update(state=AgentStateChoice.BREAK)
    assert work_next(actor=tracer) is None  # nothing waiting: but the tracer is now available
    assert AgentStatus.objects.get(user=tracer).state == AgentStateChoice.AVAILABLE
    AgentStatus.objects.filter(user=tracer).update(state=AgentStateChoice.OFFLINE)
    case = make_case(county)
    run_background_work()  # nobody on: it waits
    item = work_next(actor=tracer)
    assert item is not None and (item.case_id, item.holder, item.status) == (case.pk, tracer, WorkStatus.ACCEPTED)


def test_closing_a_case_under_the_tracers_hands_ends_the_work_and_frees_them(make_case, county, tracer, users):
    case = make_case(county)
    item = _held(case, tracer)
    case_change_status(actor=users[Role.SUPERVISOR], case=case, to_status=CaseStatus.CLOSED, reason="Duplicate")
    run_background_work()
    item.refresh_from_db()
    assert item.status == WorkStatus.CANCELED
    assert AgentStatus.objects.get(user=tracer).state == AgentStateChoice.AVAILABLE
    with pytest.raises(DomainError, match="not yours"):
        work_wrap_up(actor=tracer, item_id=item.pk, disposition="reached")


def test_an_interviewed_case_keeps_the_work_for_the_holders_wrap_up(make_case, county, tracer):
    case = make_case(county)
    item = _held(case, tracer)
    case_change_status(actor=tracer, case=Case.objects.get(pk=case.pk), to_status=CaseStatus.INTERVIEWED, reason="Done")
    run_background_work()
    item.refresh_from_db()
    assert item.status == WorkStatus.ACCEPTED  # not ended under their hands
    item = work_wrap_up(actor=tracer, item_id=item.pk, disposition="no_answer")
    assert item.status == WorkStatus.COMPLETED  # the record needs it no more: no retry
