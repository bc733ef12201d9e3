"""A supervisor's routing actions: forcing a state, re-prioritising, moving work to a named tracer; and the board's
figures (routing.board) on a state built to know them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from conftest import run_background_work
from tracecenter.accounts.models import Proficiency, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.core.models import OutboxEvent, PushMessage
from tracecenter.people.services import PersonInput, person_create
from tracecenter.routing import board
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Channel, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus
from tracecenter.routing.supervision import agent_force_state, work_item_move, work_item_reprioritise
from tracecenter.routing.tests.board_world import MINUTE, bare_cases, offer, on_shift, work

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def person(county):
    return person_create(actor=None, jurisdiction=county, data=PersonInput(first_name="Ana", last_name="García"))


@pytest.fixture
def supervisor(users):
    return users[Role.SUPERVISOR]


@pytest.fixture
def investigator(users):
    return users[Role.CASE_INVESTIGATOR]


@pytest.fixture
def cases(county, team, person):
    return bare_cases(6, county, person, team)


def _denied(actor, object_type, object_id) -> bool:
    return AuditEntry.objects.filter(
        actor_id=actor.pk, action="denied", object_type=object_type, object_id=str(object_id)
    ).exists()


# --- Forcing a state.


def test_a_supervisor_forces_a_tracers_state_with_a_reason_and_the_boards_hear_of_it(
    supervisor, investigator, team, county, state
):
    on_shift(investigator, AgentStateChoice.AVAILABLE)
    status = agent_force_state(actor=supervisor, agent_id=investigator.pk, state="break", reason="  Asked   for a pause ")
    assert (status.state, status.reason) == ("break", "Asked for a pause")
    assert AgentStatus.objects.get(user=investigator).state == AgentStateChoice.BREAK
    entry = AuditEntry.objects.get(actor_id=supervisor.pk, object_type="agent_status", object_id=str(investigator.pk))
    assert (entry.action, entry.detail) == ("update", "break")
    assert OutboxEvent.objects.filter(name="AgentStateChanged", payload__agent_id=investigator.pk).exists()
    PushMessage.objects.all().delete()
    run_background_work()
    told = list(PushMessage.objects.filter(kind="work.board").values_list("group", "data"))
    data = {"agent_id": investigator.pk}
    assert sorted(told, key=str) == sorted(
        [(f"team.{team.pk}", data), (f"jurisdiction.{county.pk}", data), (f"jurisdiction.{state.pk}", data)], key=str
    )  # the boards over the tracer's team and jurisdictions; never a tracer's own group


@pytest.mark.parametrize(
    ("new_state", "reason", "field"),
    [
        ("break", "", "reason"),
        ("break", "   \n\t ", "reason"),
        ("break", "x" * 121, "reason"),
        ("asleep", "A reason", "state"),
        ("<script>alert(1)</script>", "A reason", "state"),
    ],
)
def test_a_forced_state_needs_a_listed_state_and_a_reason_of_sane_length(supervisor, investigator, new_state, reason, field):
    on_shift(investigator, AgentStateChoice.AVAILABLE)
    with pytest.raises(DomainError) as caught:
        agent_force_state(actor=supervisor, agent_id=investigator.pk, state=new_state, reason=reason)
    assert caught.value.field == field
    assert AgentStatus.objects.get(user=investigator).state == AgentStateChoice.AVAILABLE
    assert not OutboxEvent.objects.filter(name="AgentStateChanged").exists()


def test_a_supervisor_cannot_force_the_state_of_a_tracer_of_another_county(supervisor, make_user, other_county):
    outsider = make_user(Role.CONTACT_TRACER, other_county)
    on_shift(outsider, AgentStateChoice.AVAILABLE)
    with pytest.raises(DomainError) as caught:
        agent_force_state(actor=supervisor, agent_id=outsider.pk, state="offline", reason="Not on shift")
    assert caught.value.field == "agent"
    assert AgentStatus.objects.get(user=outsider).state == AgentStateChoice.AVAILABLE
    assert _denied(supervisor, "agent_status", outsider.pk)


def test_an_epidemiologist_watches_but_forces_nothing(users, investigator):
    on_shift(investigator, AgentStateChoice.AVAILABLE)
    epidemiologist = users[Role.EPIDEMIOLOGIST]
    with pytest.raises(DomainError):
        agent_force_state(actor=epidemiologist, agent_id=investigator.pk, state="offline", reason="Not on shift")
    assert AgentStatus.objects.get(user=investigator).state == AgentStateChoice.AVAILABLE
    assert _denied(epidemiologist, "agent_status", investigator.pk)


# --- Re-prioritising.


def test_a_supervisor_reprioritises_waiting_work_audited_with_numbers_only(supervisor, cases):
    item = work(cases[0], priority=30)
    work_item_reprioritise(actor=supervisor, item_id=item.pk, priority=95, reason="Ana García is a nurse at a care home")
    item.refresh_from_db()
    assert item.priority == 95
    entry = AuditEntry.objects.get(actor_id=supervisor.pk, object_type="work_item", object_id=str(item.pk))
    assert (entry.action, entry.fields, entry.detail) == ("update", ["priority"], "priority 30 to 95")
    assert "García" not in entry.detail and "nurse" not in entry.detail


@pytest.mark.parametrize(
    ("priority", "reason", "field"),
    [
        (101, "Surge", "priority"),
        (-1, "Surge", "priority"),
        (True, "Surge", "priority"),
        ("50", "Surge", "priority"),
        (10**30, "Surge", "priority"),
        (50, "", "reason"),
        (50, " " * 40, "reason"),
        (50, "y" * 121, "reason"),
    ],
)
def test_a_new_priority_is_a_whole_number_from_0_to_100_with_a_reason(supervisor, cases, priority, reason, field):
    item = work(cases[0], priority=30)
    with pytest.raises(DomainError) as caught:
        work_item_reprioritise(actor=supervisor, item_id=item.pk, priority=priority, reason=reason)
    assert caught.value.field == field
    item.refresh_from_db()
    assert item.priority == 30


def test_hostile_text_in_a_reason_changes_nothing_but_the_priority(supervisor, cases):
    item = work(cases[0], priority=30)
    work_item_reprioritise(actor=supervisor, item_id=item.pk, priority=0, reason="'); DROP TABLE routing_workitem; -- <b>")
    item.refresh_from_db()
    assert item.priority == 0 and WorkItem.objects.count() == 1


def test_closed_work_is_not_reprioritised(supervisor, cases):
    done = work(cases[0], status=WorkStatus.COMPLETED, closed_ago=MINUTE)
    with pytest.raises(DomainError, match="closed") as caught:
        work_item_reprioritise(actor=supervisor, item_id=done.pk, priority=90, reason="Surge")
    assert caught.value.field == "item"
    done.refresh_from_db()
    assert done.priority == 30


def test_work_of_another_county_is_refused_as_if_it_did_not_exist_and_the_attempt_audited(
    supervisor, other_county, person, cases
):
    (elsewhere,) = bare_cases(1, other_county, person)
    theirs = work(elsewhere)
    with pytest.raises(DomainError) as refused:
        work_item_reprioritise(actor=supervisor, item_id=theirs.pk, priority=90, reason="Surge")
    with pytest.raises(DomainError) as missing:
        work_item_reprioritise(actor=supervisor, item_id=theirs.pk + 1000, priority=90, reason="Surge")
    assert refused.value.field == missing.value.field == "item"
    assert refused.value.message == missing.value.message  # ids are not probed through the answer
    assert _denied(supervisor, "work_item", theirs.pk)
    assert not _denied(supervisor, "work_item", theirs.pk + 1000)
    theirs.refresh_from_db()
    assert theirs.priority == 30


def test_a_team_supervisor_reaches_their_team_and_the_unteamed_work_not_another_team(supervisor, county, person, team, cases):
    from tracecenter.accounts.models import Team

    other_team = Team.objects.create(name="Team B", jurisdiction=county)
    (theirs,) = bare_cases(1, county, person, other_team)
    (unteamed,) = bare_cases(1, county, person, None)
    other_teams_item, unteamed_item = work(theirs), work(unteamed)
    with pytest.raises(DomainError):
        work_item_reprioritise(actor=supervisor, item_id=other_teams_item.pk, priority=90, reason="Surge")
    work_item_reprioritise(actor=supervisor, item_id=unteamed_item.pk, priority=90, reason="Surge")
    assert WorkItem.objects.get(pk=unteamed_item.pk).priority == 90
    assert set(board.work_in_reach(supervisor).values_list("pk", flat=True)) == {unteamed_item.pk}


# --- Moving work to a named tracer.


@pytest.fixture
def two_investigators(make_user, county, team):
    first, second = make_user(Role.CASE_INVESTIGATOR, county, team), make_user(Role.CASE_INVESTIGATOR, county, team)
    on_shift(first), on_shift(second)
    return first, second


def test_moving_waiting_work_offers_it_to_the_named_tracer_through_the_claim_path(supervisor, cases, two_investigators):
    _first, second = two_investigators
    item = work(cases[0])
    made = work_item_move(actor=supervisor, item_id=item.pk, agent_id=second.pk)
    assert (made.agent_id, made.status, made.item_id) == (second.pk, OfferStatus.PENDING, item.pk)
    assert WorkItem.objects.get(pk=item.pk).status == WorkStatus.OFFERED
    details = set(AuditEntry.objects.filter(object_type="work_item", object_id=str(item.pk)).values_list("actor_id", "detail"))
    assert (supervisor.pk, f"moved to user {second.pk}") in details
    assert (None, f"offered to user {second.pk}") in details  # the claim path's own entry
    assert OutboxEvent.objects.filter(name="OfferMade", payload__agent_id=second.pk).exists()


def test_moving_offered_work_withdraws_the_pending_offer_first(supervisor, cases, two_investigators):
    first, second = two_investigators
    item = work(cases[0], status=WorkStatus.OFFERED)
    earlier = offer(item, first, offered_ago=dt.timedelta(seconds=10))
    work_item_move(actor=supervisor, item_id=item.pk, agent_id=second.pk)
    earlier.refresh_from_db()
    assert (earlier.status, earlier.reason) == (OfferStatus.WITHDRAWN, "moved by a supervisor")
    assert list(Offer.objects.filter(item=item, status=OfferStatus.PENDING).values_list("agent_id", flat=True)) == [second.pk]
    assert OutboxEvent.objects.filter(name="OfferAnswered", payload__offer_id=earlier.pk, payload__status="withdrawn").exists()
    item.refresh_from_db()
    assert first.pk not in item.excluded  # withdrawn by a supervisor is no refusal of theirs


def _refusal(supervisor, item, tracer) -> DomainError:
    with pytest.raises(DomainError) as caught:
        work_item_move(actor=supervisor, item_id=item.pk, agent_id=tracer.pk)
    return caught.value


def test_a_tracer_who_is_not_taking_work_is_refused(supervisor, cases, two_investigators):
    first, _second = two_investigators
    on_shift(first, AgentStateChoice.LUNCH)
    item = work(cases[0])
    error = _refusal(supervisor, item, first)
    assert error.field == "agent" and "not taking work" in error.message and "Lunch" in error.message
    assert not Offer.objects.filter(item=item).exists()


def test_a_tracer_at_capacity_is_refused(supervisor, cases, two_investigators):
    first, _second = two_investigators
    work(cases[1], status=WorkStatus.ACCEPTED, holder=first)  # one call at a time
    item = work(cases[0])
    error = _refusal(supervisor, item, first)
    assert error.field == "agent" and "at capacity" in error.message
    # A text is another channel: there, they have room.
    text = work(cases[2], channel=Channel.SMS)
    assert work_item_move(actor=supervisor, item_id=text.pk, agent_id=first.pk).agent_id == first.pk


def test_a_tracer_who_lacks_the_language_is_refused(supervisor, cases, two_investigators):
    first, second = two_investigators
    UserLanguage.objects.create(user=second, language="es", proficiency=Proficiency.FLUENT)
    item = work(cases[0], language="es")
    error = _refusal(supervisor, item, first)
    assert error.field == "agent" and "Spanish" in error.message
    assert work_item_move(actor=supervisor, item_id=item.pk, agent_id=second.pk).agent_id == second.pk


def test_a_tracer_of_another_county_is_refused_and_the_attempt_audited(supervisor, cases, make_user, other_county):
    outsider = make_user(Role.CASE_INVESTIGATOR, other_county)
    on_shift(outsider)
    item = work(cases[0])
    error = _refusal(supervisor, item, outsider)
    assert error.field == "agent"
    assert _denied(supervisor, "agent_status", outsider.pk)
    assert not Offer.objects.filter(item=item).exists()


def test_a_state_supervisor_cannot_give_a_countys_work_to_a_tracer_who_could_not_open_it(
    make_user, state, county, other_county, person
):
    state_supervisor = make_user(Role.SUPERVISOR, state)
    south = make_user(Role.CASE_INVESTIGATOR, other_county)
    on_shift(south)
    item = work(bare_cases(1, county, person)[0])
    error = _refusal(state_supervisor, item, south)
    assert error.field == "agent" and "jurisdiction does not cover" in error.message


def test_a_tracer_who_declined_the_work_is_refused(supervisor, cases, two_investigators):
    first, _second = two_investigators
    item = work(cases[0], excluded=[first.pk])
    assert "declined" in _refusal(supervisor, item, first).message


def test_work_in_progress_or_closed_is_not_moved(supervisor, cases, two_investigators):
    first, second = two_investigators
    held = work(cases[0], status=WorkStatus.ACCEPTED, holder=first)
    closed = work(cases[1], status=WorkStatus.CANCELED, closed_ago=MINUTE)
    assert "in progress" in _refusal(supervisor, held, second).message
    assert "closed" in _refusal(supervisor, closed, second).message
    assert WorkItem.objects.get(pk=held.pk).holder == first


def test_work_held_back_for_a_retry_or_a_callback_is_not_moved_before_its_time(supervisor, cases, two_investigators):
    _first, second = two_investigators
    later = work(cases[0], not_before=clock.now() + HOUR)
    error = _refusal(supervisor, later, second)
    assert error.field == "item" and "held back until" in error.message
    assert not Offer.objects.filter(item=later).exists()


def test_work_is_not_moved_outside_the_persons_calling_hours(supervisor, cases, two_investigators, county, state):
    _first, second = two_investigators
    from tracecenter.accounts.models import Jurisdiction

    Jurisdiction.objects.filter(pk__in=[county.pk, state.pk]).update(calling_from=dt.time(9), calling_until=dt.time(17))
    item = work(cases[0])
    evening = timezone.make_aware(dt.datetime(2025, 3, 4, 20, 0), timezone.get_current_timezone())
    with time_machine.travel(evening, tick=False):
        error = _refusal(supervisor, WorkItem.objects.get(pk=item.pk), second)
    assert error.field == "item" and "calling hours" in error.message
    morning = timezone.make_aware(dt.datetime(2025, 3, 5, 10, 0), timezone.get_current_timezone())
    with time_machine.travel(morning, tick=False):
        assert work_item_move(actor=supervisor, item_id=item.pk, agent_id=second.pk).agent_id == second.pk


def test_a_moved_offer_lasts_the_states_offer_time_and_the_tracer_it_left_is_told(supervisor, cases, two_investigators, state):
    from tracecenter.routing.models import QueueConfig

    first, second = two_investigators
    QueueConfig.objects.create(jurisdiction=state, kind=WorkKind.CASE_INTERVIEW, offer_seconds=90, changed_at=clock.now())
    item = work(cases[0], status=WorkStatus.OFFERED)
    earlier = offer(item, first, offered_ago=dt.timedelta(seconds=5))
    PushMessage.objects.all().delete()
    made = work_item_move(actor=supervisor, item_id=item.pk, agent_id=second.pk)
    assert made.expires_at - made.offered_at == dt.timedelta(seconds=90)
    told = PushMessage.objects.filter(group=f"user.{first.pk}", kind="work.offer").values_list("data", flat=True)
    assert {"offer_id": earlier.pk, "item_id": item.pk, "status": "withdrawn"} in list(told)


def test_work_of_another_county_is_not_moved(supervisor, two_investigators, other_county, person):
    _first, second = two_investigators
    theirs = work(bare_cases(1, other_county, person)[0])
    error = _refusal(supervisor, theirs, second)
    assert error.field == "item" and _denied(supervisor, "work_item", theirs.pk)


# --- The board's figures.


@pytest.fixture
def afternoon():
    """15:00 in the center's time zone: "today" began 15 hours ago."""
    at = timezone.make_aware(dt.datetime(2025, 3, 4, 15, 0), timezone.get_current_timezone())
    with time_machine.travel(at, tick=False):
        yield at


def test_the_queues_count_open_work_the_oldest_wait_and_todays_answers(afternoon, supervisor, cases, two_investigators):
    first, second = two_investigators
    work(cases[0], queued_ago=30 * MINUTE)
    work(cases[1], queued_ago=2 * HOUR, created_ago=2 * HOUR)
    answered = work(cases[2], status=WorkStatus.OFFERED)
    work(cases[3], status=WorkStatus.ACCEPTED, holder=first)
    work(cases[4], status=WorkStatus.COMPLETED, closed_ago=MINUTE)
    work(cases[0], kind=WorkKind.CONTACT_NOTIFICATION, channel=Channel.SMS)
    for status, ago in ((OfferStatus.ACCEPTED, HOUR), (OfferStatus.REJECTED, HOUR), (OfferStatus.REJECTED, HOUR)):
        offer(answered, first, offered_ago=ago, status=status, answered_ago=ago)
    offer(answered, second, offered_ago=16 * HOUR, status=OfferStatus.TIMED_OUT, answered_ago=16 * HOUR)  # yesterday
    offer(answered, second, offered_ago=2 * MINUTE, status=OfferStatus.TIMED_OUT, answered_ago=MINUTE)
    rows = {(r.kind, r.channel): r for r in board.queue_rows(supervisor, now=clock.now())}
    interviews = rows[WorkKind.CASE_INTERVIEW, Channel.VOICE]
    assert (interviews.queued, interviews.offered, interviews.in_progress) == (2, 1, 1)
    assert interviews.oldest_age == 2 * HOUR
    assert (interviews.accepted, interviews.rejected, interviews.timed_out) == (1, 2, 1)
    texts = rows[WorkKind.CONTACT_NOTIFICATION, Channel.SMS]
    assert (texts.queued, texts.offered, texts.oldest_age) == (1, 0, 5 * MINUTE)
    empty = rows[WorkKind.CALLBACK, Channel.VOICE]  # every queue has a line
    assert (empty.queued, empty.oldest_age, empty.service_level) == (0, None, None)


def test_service_level_is_todays_work_offered_within_the_target(afternoon, supervisor, cases, two_investigators):
    first, _second = two_investigators
    # In the order work comes in (its numbers rise with its arrival, which the figures rely on to skip the history).
    yesterdays = work(cases[5], created_ago=20 * HOUR)  # yesterday's, still waiting: not today's figure
    offer(yesterdays, first, offered_ago=HOUR, status=OfferStatus.REJECTED, answered_ago=HOUR)  # its answer is today's
    met = work(cases[0], status=WorkStatus.ACCEPTED, holder=first, created_ago=3 * HOUR)
    offer(met, first, offered_ago=3 * HOUR - 10 * MINUTE, status=OfferStatus.ACCEPTED, answered_ago=170 * MINUTE)
    late = work(cases[1], status=WorkStatus.OFFERED, created_ago=3 * HOUR)
    offer(late, first, offered_ago=90 * MINUTE)  # 90 minutes after it came in
    work(cases[4], status=WorkStatus.CANCELED, created_ago=3 * HOUR, closed_ago=3 * HOUR - 5 * MINUTE)  # closed in time
    work(cases[2], created_ago=2 * HOUR)  # still waiting, past the target: missed
    work(cases[3], created_ago=10 * MINUTE)  # still inside its target: not decided yet
    row = next(r for r in board.queue_rows(supervisor, now=clock.now()) if r.kind == WorkKind.CASE_INTERVIEW)
    assert (row.met, row.missed, row.service_level_percent) == (1, 2, 33)
    assert (row.accepted, row.rejected) == (1, 1)
    # A wider target counts the late offer as met, and leaves the one waiting two hours undecided.
    row = next(r for r in board.queue_rows(supervisor, now=clock.now(), target_minutes=150) if r.kind == WorkKind.CASE_INTERVIEW)
    assert (row.met, row.missed) == (2, 0)
    row = next(r for r in board.queue_rows(supervisor, now=clock.now(), target_minutes=100) if r.kind == WorkKind.CASE_INTERVIEW)
    assert (row.met, row.missed) == (2, 1)


def test_agents_are_counted_by_state_and_listed_with_time_in_state_and_work_held(supervisor, cases, make_user, county, team):
    on_break = make_user(Role.CONTACT_TRACER, county, team)
    busy = make_user(Role.CASE_INVESTIGATOR, county, team)
    on_shift(on_break, AgentStateChoice.BREAK, since_ago=12 * MINUTE, reason="coffee")
    on_shift(busy, AgentStateChoice.BUSY, since_ago=HOUR)
    work(cases[0], status=WorkStatus.ACCEPTED, holder=busy)
    work(cases[1], status=WorkStatus.ACCEPTED, holder=busy, channel=Channel.SMS)
    offered = work(cases[2], status=WorkStatus.OFFERED)
    offer(offered, busy, offered_ago=dt.timedelta(seconds=5))
    counts = {state: n for state, _label, n in board.agents_by_state(supervisor)}
    assert counts[AgentStateChoice.BREAK] == 1 and counts[AgentStateChoice.BUSY] == 1 and counts[AgentStateChoice.AVAILABLE] == 0
    _page, rows = board.agent_page(supervisor, 1, now=clock.now())
    assert [r.user_id for r in rows] == [busy.pk, on_break.pk]  # busy comes before break
    assert (rows[0].held, rows[0].offered, rows[1].held, rows[1].reason) == (2, 1, 0, "coffee")
    assert rows[1].in_state >= 12 * MINUTE


def test_work_held_back_for_later_is_counted_apart_and_not_listed_as_waiting(afternoon, supervisor, cases):
    now = clock.now()
    due = work(cases[0], queued_ago=20 * MINUTE)
    work(cases[1], not_before=now + HOUR, queued_ago=-HOUR)  # a callback in an hour (queued from then)
    came_due = work(cases[2], not_before=now - MINUTE, queued_ago=MINUTE)  # a retry whose time has come
    row = next(r for r in board.queue_rows(supervisor, now=now) if r.kind == WorkKind.CASE_INTERVIEW)
    assert (row.queued, row.scheduled, row.oldest_age) == (2, 1, 20 * MINUTE)
    _page, rows = board.waiting_page(supervisor, 1, now=now)
    assert {r.item_id for r in rows} == {due.pk, came_due.pk}


def test_the_waiting_list_is_most_urgent_then_oldest_and_paged(supervisor, cases):
    low_old = work(cases[0], priority=10, queued_ago=HOUR)
    high_new = work(cases[1], priority=50, queued_ago=MINUTE)
    low_new = work(cases[2], priority=10, queued_ago=2 * MINUTE)
    work(cases[3], status=WorkStatus.OFFERED)  # not waiting
    page, rows = board.waiting_page(supervisor, 1, now=clock.now())
    assert [r.item_id for r in rows] == [high_new.pk, low_old.pk, low_new.pk]
    assert page.paginator.count == 3 and rows[0].case_id == cases[1].pk and rows[0].contact_id is None
    page, rows = board.waiting_page(supervisor, "2", now=clock.now(), size=2)
    assert [r.item_id for r in rows] == [low_new.pk] and page.number == 2
    _page, rows = board.waiting_page(supervisor, "x", now=clock.now(), kind=WorkKind.CALLBACK)
    assert rows == []


def test_the_figures_take_the_same_queries_for_three_items_or_three_hundred(supervisor, county, team, person, users):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            board.queue_rows(supervisor, now=clock.now())
            board.agents_by_state(supervisor)
            board.agent_page(supervisor, 1, now=clock.now())
            board.waiting_page(supervisor, 1, now=clock.now())
        return len(ctx.captured_queries)

    on_shift(users[Role.CASE_INVESTIGATOR])
    for case in bare_cases(3, county, person, team):
        work(case)
    few = count()
    many = bare_cases(300, county, person, team)
    WorkItem.objects.bulk_create(
        [
            WorkItem(kind=WorkKind.CASE_INTERVIEW, case=c, jurisdiction=county, team=team, queued_at=clock.now(), priority=i % 7)
            for i, c in enumerate(many)
        ]
    )
    for tracer in range(60):
        on_shift(users[Role.CONTACT_TRACER] if tracer == 0 else _tracer(county, team, tracer))
    assert count() == few
    assert few <= 10  # three for the queues, one for the states, four for a page of tracers, two for a page of work


def _tracer(county, team, n):
    from tracecenter.accounts.models import User

    return User.objects.create(username=f"extra-{n}", role=Role.CONTACT_TRACER, jurisdiction=county, team=team)
