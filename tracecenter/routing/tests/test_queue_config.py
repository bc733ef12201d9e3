"""Queues configured per state, their preview on the real users, and surge mode (CDC's order, in Python and in SQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conftest import run_background_work
from tracecenter.accounts.models import Jurisdiction, Proficiency, Skill, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure, Relationship, Setting
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.core.models import OutboxEvent
from tracecenter.people.services import PersonInput
from tracecenter.routing import engine, queue_config, surge
from tracecenter.routing.claims import agent_set_state, agents_of, engine_item
from tracecenter.routing.models import AgentStateChoice, AgentStatus, QueueConfig, SurgeSetting, WorkItem, WorkKind, WorkStatus
from tracecenter.routing.queues import QUEUES, Step, build, default_spec, queue_set, queues_for, specs_for
from tracecenter.routing.surge import SurgeRules, WorkFacts, surge_priority

pytestmark = pytest.mark.django_db

INTERVIEW = WorkKind.CASE_INTERVIEW.value
NOTIFICATION = WorkKind.CONTACT_NOTIFICATION.value


def queue_input(expression: str = 'role == "case_investigator"', steps=None, **overrides) -> queue_config.QueueInput:
    values = {
        "expression": expression,
        "steps": list(default_spec(INTERVIEW).steps) if steps is None else steps,
        "aging_points": 10,
        "aging_cap": 20,
        "offer_seconds": 45,
        "active": True,
        **overrides,
    }
    return queue_config.QueueInput(**values)


@pytest.fixture
def state_admin(make_user, state):
    return make_user(Role.ADMINISTRATOR, state, username="admin.state")


def _on_shift(*users):
    for user in users:
        agent_set_state(actor=user, agent=user, state=AgentStateChoice.AVAILABLE)


def _offered_to(state, item: WorkItem) -> int | None:
    """Who the engine offers `item` to now, with the state's queues and tracers on shift."""
    router = engine.Router(queues_for(state), agents_of(state), reservation_seconds=45)
    offers = router.assign([engine_item(item)], clock.now().timestamp())
    return offers[0].agent if offers else None


# --- the queues a routing pass reads ------------------------------------------------------------------


def test_a_state_without_configuration_routes_by_the_defaults(state):
    assert queues_for(state) == list(QUEUES.values())
    assert queue_set(state).offer_seconds == dict.fromkeys(QUEUES, 45)
    assert all(not spec.configured for spec in specs_for(state).values())


def test_reading_a_states_queues_is_one_query_and_parses_nothing_twice(state, state_admin):
    queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input("languages.es >= 4"))
    queues_for(state)
    parsed = build.cache_info().misses
    with CaptureQueriesContext(connection) as ctx:
        again = queues_for(state)
    assert len(ctx.captured_queries) == 1
    assert build.cache_info().misses == parsed  # the same content: the parsed queue is reused
    assert again[0].expression.text == "languages.es >= 4"


def test_a_configured_expression_changes_who_gets_the_work(state, county, make_user, make_case, state_admin):
    english = make_user(Role.CASE_INVESTIGATOR, county)
    measles = make_user(Role.CASE_INVESTIGATOR, county)
    skill = Skill.objects.create(code="measles", name="Measles investigation", jurisdiction=state)
    measles.skills.add(skill)
    item = WorkItem.objects.get(case=make_case(county), kind=INTERVIEW)  # nobody on shift yet: it waits
    _on_shift(english, measles)
    AgentStatus.objects.filter(user=english).update(idle_since=clock.now() - dt.timedelta(hours=1))
    assert _offered_to(state, item) == english.pk  # the defaults: the longest idle investigator

    queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input('skills has "measles"'))
    assert _offered_to(state, item) == measles.pk

    # Another state's configuration changes nothing here.
    other = Jurisdiction.objects.create(name="Other State", code="os")
    other_admin = make_user(Role.ADMINISTRATOR, other)
    queue_config.queue_config_save(actor=other_admin, state=other, kind=INTERVIEW, data=queue_input('role == "nobody"'))
    assert _offered_to(state, item) == measles.pk


def test_a_queue_not_active_offers_nothing_and_the_defaults_return_on_reset(state, county, make_user, make_case, state_admin):
    tracer = make_user(Role.CASE_INVESTIGATOR, county)
    item = WorkItem.objects.get(case=make_case(county), kind=INTERVIEW)
    _on_shift(tracer)
    queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input(active=False))
    assert INTERVIEW not in {q.id for q in queues_for(state)}
    assert _offered_to(state, item) is None
    assert queue_config.queue_config_reset(actor=state_admin, state=state, kind=INTERVIEW) is True
    assert queues_for(state) == list(QUEUES.values())
    assert _offered_to(state, item) == tracer.pk
    entry = AuditEntry.objects.filter(object_type="queue_config", action="delete").get()
    assert entry.jurisdiction_id == state.pk and entry.detail == "case_interview: defaults"


def test_a_configured_workflow_tries_its_steps_for_their_minutes(state, state_admin):
    steps = [Step(owner_only=True, minutes=5), Step(expression="languages.es >= 4", minutes=15), Step()]
    queue_config.queue_config_save(
        actor=state_admin,
        state=state,
        kind=INTERVIEW,
        data=queue_input(steps=steps, aging_points=30, aging_cap=60, offer_seconds=90),
    )
    (queue,) = [q for q in queues_for(state) if q.id == INTERVIEW]
    item = engine.Item(id=1, queue=INTERVIEW, channel="voice", priority=10, queued_at=0.0, owner=7)
    assert [engine.current_step(queue, item, minute * 60.0) for minute in (0, 4, 5, 19, 20, 500)] == [0, 0, 1, 1, 2, 2]
    assert engine.effective_priority(item, queue, 60 * 60.0) == 10 + 60  # a point a minute, capped at 60
    assert queue_set(state).offer_seconds[INTERVIEW] == 90


def test_saving_is_audited_with_the_fields_changed_never_their_values(state, state_admin):
    row = queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input("languages.es >= 4"))
    queue_config.queue_config_save(
        actor=state_admin, state=state, kind=INTERVIEW, data=queue_input("languages.es >= 4", offer_seconds=60)
    )
    first, second = AuditEntry.objects.filter(object_type="queue_config").order_by("pk")
    assert (first.action, first.object_id, first.jurisdiction_id) == ("create", str(row.pk), state.pk)
    assert first.fields == ["expression"]  # against the defaults: only the expression differs
    assert (second.action, second.fields) == ("update", ["offer_seconds"])
    assert all("languages" not in entry.detail for entry in (first, second))
    row.refresh_from_db()
    assert (row.changed_by, row.offer_seconds) == (state_admin, 60)


# --- refusals -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "field", "message"),
    [
        ('role = "x"', "expression", "At character 6: '=' is not part of an expression."),
        ("x" * 1001, "expression", "At character 1001: an expression is at most 1000 characters long."),
        ('role == "x" and', "expression", "At character 16:"),
        ("role == \x00", "expression", "At character 9: a control character"),
    ],
)
def test_an_expression_that_does_not_parse_is_refused_with_its_character(state, state_admin, expression, field, message):
    with pytest.raises(DomainError) as caught:
        queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input(expression))
    assert caught.value.field == field and caught.value.message.startswith(message)
    assert not QueueConfig.objects.exists()


@pytest.mark.parametrize(
    ("steps", "field", "message"),
    [
        ([Step(minutes=-5), Step()], "steps-0-minutes", "Between 1 and"),
        ([Step(minutes=0), Step()], "steps-0-minutes", "Between 1 and"),
        ([Step(minutes=10**7), Step()], "steps-0-minutes", "Between 1 and"),
        ([Step(), Step()], "steps-0-minutes", "Say how many minutes"),
        ([Step(minutes=10)], "steps-0-minutes", "The last step lasts"),
        ([Step(owner_only=True)], "steps-0-owner_only", "The last step cannot be the owner only"),
        ([Step(owner_only=True, expression="team == 1", minutes=5), Step()], "steps-0-expression", "A step for the owner"),
        ([Step(expression="team ==", minutes=5), Step()], "steps-0-expression", "At character 8:"),
        ([Step(expression="y" * 2000, minutes=5), Step()], "steps-0-expression", "At character 1001:"),
        ([Step(minutes=5, needs="language"), Step()], "steps-0-needs", "Choose one of"),
        ([], "steps", "A workflow needs at least one step."),
        ([Step(minutes=1)] * 499 + [Step()], "steps", "At most 10 steps."),
    ],
)
def test_a_workflow_out_of_shape_is_refused_naming_the_step(state, state_admin, steps, field, message):
    with pytest.raises(DomainError) as caught:
        queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input(steps=steps))
    assert (caught.value.field, caught.value.message[: len(message)]) == (field, message)
    assert not QueueConfig.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"aging_points": -1}, "aging_points"), ({"aging_cap": 10**6}, "aging_cap"), ({"offer_seconds": 5}, "offer_seconds")],
)
def test_numbers_out_of_range_are_refused(state, state_admin, overrides, field):
    with pytest.raises(DomainError) as caught:
        queue_config.queue_config_save(actor=state_admin, state=state, kind=INTERVIEW, data=queue_input(**overrides))
    assert caught.value.field == field


def test_only_the_states_administrators_set_its_queues(state, county, make_user, state_admin):
    for user in (
        make_user(Role.ADMINISTRATOR, county),
        make_user(Role.SUPERVISOR, state),
        make_user(Role.CASE_INVESTIGATOR, state),
    ):
        with pytest.raises(PermissionDenied):
            queue_config.queue_config_save(actor=user, state=state, kind=INTERVIEW, data=queue_input())
    with pytest.raises(DomainError, match="for a state"):
        queue_config.queue_config_save(actor=state_admin, state=county, kind=INTERVIEW, data=queue_input())
    with pytest.raises(DomainError) as caught:
        queue_config.queue_config_save(actor=state_admin, state=state, kind="dishes", data=queue_input())
    assert caught.value.field == "kind"
    assert not QueueConfig.objects.exists()


# --- the preview ----------------------------------------------------------------------------------------


@pytest.fixture
def staff(make_user, state, county, other_county, team):
    """Users of every sort the preview must tell apart, each speaking Spanish in some way."""

    def speaking(user, proficiency=Proficiency.NATIVE):
        UserLanguage.objects.create(user=user, language="es", proficiency=proficiency)
        return user

    people = {
        "investigator": speaking(make_user(Role.CASE_INVESTIGATOR, county, team), Proficiency.FLUENT),
        "conversational": speaking(make_user(Role.CASE_INVESTIGATOR, other_county), Proficiency.CONVERSATIONAL),
        "state_investigator": make_user(Role.CASE_INVESTIGATOR, state),
        "tracer": speaking(make_user(Role.CONTACT_TRACER, county, team)),
        "supervisor": speaking(make_user(Role.SUPERVISOR, county, team)),
        "inactive": speaking(make_user(Role.CASE_INVESTIGATOR, county)),
        "epidemiologist": speaking(make_user(Role.EPIDEMIOLOGIST, county)),
    }
    people["inactive"].is_active = False
    people["inactive"].save()
    elsewhere = Jurisdiction.objects.create(name="Other State", code="os")
    people["elsewhere"] = speaking(make_user(Role.CASE_INVESTIGATOR, elsewhere))
    return people


def _reached(preview) -> dict[int, tuple[bool, ...]]:
    return {row.user.pk: row.matches for row in preview.rows}


def test_the_preview_lists_exactly_the_users_the_engine_would_offer_the_work(state, county, team, staff, state_admin):
    spec = default_spec(INTERVIEW)
    spanish = queue_config.queue_preview(
        viewer=state_admin, state=state, spec=spec, work=queue_config.SampleWork(jurisdiction=county, language="es")
    )
    # An interview in Spanish: investigators who speak it fluently or better; not the conversational one, not
    # other roles, not the inactive, not another state's.
    assert _reached(spanish) == {staff["investigator"].pk: (True, True, False, True, True)}
    assert [c.skipped for c in spanish.columns] == [False, False, True, False, False]  # no team: its step is skipped
    assert (spanish.total, spanish.considered) == (1, 5)  # the five active users who take work in the state

    english = queue_config.queue_preview(
        viewer=state_admin, state=state, spec=spec, work=queue_config.SampleWork(jurisdiction=county, team_id=team.pk)
    )
    assert _reached(english) == {
        staff["investigator"].pk: (True, True, True, True, True),
        staff["conversational"].pk: (True, True, False, False, True),  # another county, another team: the state's pool
        staff["state_investigator"].pk: (True, True, False, True, True),  # the state covers the county
    }
    assert [c.matched for c in english.columns] == [3, 3, 1, 2, 3]


def test_the_preview_previews_what_is_typed_and_a_county_administrator_sees_their_county_only(
    state, county, other_county, staff, make_user
):
    typed = dataclasses.replace(default_spec(INTERVIEW), expression='role == "contact_tracer" or role == "supervisor"')
    work = queue_config.SampleWork(jurisdiction=county)
    state_view = queue_config.queue_preview(viewer=make_user(Role.ADMINISTRATOR, state), state=state, spec=typed, work=work)
    assert set(_reached(state_view)) == {staff["tracer"].pk, staff["supervisor"].pk}
    south_view = queue_config.queue_preview(
        viewer=make_user(Role.ADMINISTRATOR, other_county), state=state, spec=typed, work=work
    )
    assert (south_view.total, south_view.considered) == (0, 1)


def test_the_preview_reads_the_same_attributes_as_routing(state, county, staff):
    user = staff["investigator"]
    user.skills.add(Skill.objects.create(code="interpreter", name="Interpreter", jurisdiction=state))
    _on_shift(user)
    (routed,) = [agent for agent in agents_of(state) if agent.id == user.pk]
    assert queue_config.agent_attributes([user])[user.pk] == routed.attributes


# --- surge: CDC's order ------------------------------------------------------------------------------------

TODAY = dt.date(2024, 3, 10)


def _days(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def test_in_surge_recent_cases_come_first_then_high_risk_settings_then_the_ordinary_order():
    cases = {
        "fresh specimen, congregate": (30, WorkFacts(INTERVIEW, specimen=_days(2), congregate=True)),
        "fresh specimen": (30, WorkFacts(INTERVIEW, specimen=_days(2))),
        "fresh onset, old specimen": (20, WorkFacts(INTERVIEW, onset=_days(6), specimen=_days(9))),
        "old, congregate": (40, WorkFacts(INTERVIEW, specimen=_days(9), congregate=True)),
        "old but urgent": (40, WorkFacts(INTERVIEW, specimen=_days(7))),
        "old": (10, WorkFacts(INTERVIEW, specimen=_days(12))),
        "specimen in the future (a typing error)": (10, WorkFacts(INTERVIEW, specimen=TODAY + dt.timedelta(days=1))),
    }
    order = sorted(cases, key=lambda name: -surge_priority(*cases[name], SurgeRules(), TODAY))
    assert order == [
        "fresh specimen, congregate",
        "fresh specimen",
        "fresh onset, old specimen",  # onset 6 days ago is still recent
        "old, congregate",
        "old but urgent",
        "old",
        "specimen in the future (a typing error)",
    ]
    # Out of surge, the ordinary priority alone.
    assert {name: surge_priority(*facts, None, TODAY) for name, facts in cases.items()} == {n: c[0] for n, c in cases.items()}


def test_in_surge_household_contacts_come_first_then_high_risk_settings_then_recent_exposures():
    contacts = {
        "household, exposed long ago": (15, WorkFacts(NOTIFICATION, relationship="household_member", last_exposure=_days(10))),
        "partner": (15, WorkFacts(NOTIFICATION, relationship="partner", last_exposure=_days(10))),
        "nursing home, recent": (10, WorkFacts(NOTIFICATION, setting="congregate", last_exposure=_days(1))),
        "hospital ward": (20, WorkFacts(NOTIFICATION, setting="healthcare", last_exposure=_days(9))),
        "coworker, recent": (40, WorkFacts(NOTIFICATION, relationship="coworker", setting="work", last_exposure=_days(3))),
        "coworker": (40, WorkFacts(NOTIFICATION, relationship="coworker", setting="work", last_exposure=_days(8))),
    }
    order = sorted(contacts, key=lambda name: -surge_priority(*contacts[name], SurgeRules(), TODAY))
    assert order == [
        "household, exposed long ago",
        "partner",
        "nursing home, recent",
        "hospital ward",
        "coworker, recent",
        "coworker",
    ]


def test_each_part_of_the_surge_order_is_configurable():
    fresh = WorkFacts(INTERVIEW, specimen=_days(4), congregate=True)
    assert surge_priority(10, fresh, SurgeRules(recent_days=3), TODAY) == 10 + surge.HIGH_RISK_POINTS
    assert surge_priority(10, fresh, SurgeRules(recent_first=False, high_risk_first=False), TODAY) == 10
    household = WorkFacts(NOTIFICATION, relationship="household_member")
    assert surge_priority(15, household, SurgeRules(household_first=False), TODAY) == 15


# --- surge in the database ---------------------------------------------------------------------------------


@pytest.fixture
def surge_world(make_case, make_user, county, other_county):
    """Waiting work of every sort in the state, nobody on shift: cases fresh and old, contacts of every kind."""
    today = clock.today()
    fresh = make_case(county, days_ago=2, first_name="Fresh")
    make_case(other_county, days_ago=10, first_name="Old")
    onset = make_case(county, days_ago=9, first_name="Onset")
    Case.objects.filter(pk=onset.pk).update(symptom_onset=today - dt.timedelta(days=5))
    silent = make_case(county, days_ago=9, first_name="Silent")  # an onset, but asymptomatic: the onset does not count
    Case.objects.filter(pk=silent.pk).update(symptom_onset=today - dt.timedelta(days=1), asymptomatic=True)
    congregate = make_case(county, days_ago=12, first_name="Shelter")
    Case.objects.filter(pk=congregate.pk).update(congregate_setting=True)
    investigator = make_user(Role.CASE_INVESTIGATOR, county)
    for relationship, setting, first_name in (
        (Relationship.HOUSEHOLD_MEMBER, Setting.HOUSEHOLD, "Hogar"),
        (Relationship.CAREGIVER, Setting.HEALTHCARE, "Clinica"),
        (Relationship.COWORKER, Setting.WORK, "Trabajo"),
    ):
        exposure_add(
            actor=investigator,
            case=fresh,
            person=PersonInput(first_name=first_name, last_name="Contacto"),
            data=ExposureInput(last_exposure_date=today - dt.timedelta(days=1), relationship=relationship, setting=setting),
        )
    run_background_work()
    items = list(WorkItem.objects.filter(status=WorkStatus.QUEUED).select_related("case", "exposure"))
    assert len(items) == 8
    return {"items": items, "before": {item.pk: item.priority for item in items}}


def _facts(item: WorkItem) -> WorkFacts:
    if item.exposure is not None:
        return surge.exposure_facts(Exposure.objects.get(pk=item.exposure_id))
    return surge.case_facts(Case.objects.get(pk=item.case_id))


def test_switching_surge_re_prioritises_the_waiting_work_in_sql_as_the_function_says(state, surge_world, make_user):
    supervisor = make_user(Role.SUPERVISOR, state)
    before = surge_world["before"]
    surge.surge_switch(actor=supervisor, state=state, active=True, reason="Omicron wave: 4x the cases")
    today = clock.today()
    now = {item.pk: item.priority for item in WorkItem.objects.filter(pk__in=before)}
    expected = {item.pk: surge_priority(before[item.pk], _facts(item), SurgeRules(), today) for item in surge_world["items"]}
    assert now == expected
    assert len({p - before[pk] for pk, p in now.items()}) >= 4  # the rule really told the items apart
    # Recent and household work first, the old case last.
    by_priority = sorted(surge_world["items"], key=lambda item: -now[item.pk])
    assert by_priority[-1].case is not None and by_priority[-1].case.person.first_name in ("Old", "Silent")

    surge.surge_switch(actor=supervisor, state=state, active=False, reason="Back to normal")
    assert {item.pk: item.priority for item in WorkItem.objects.filter(pk__in=before)} == before


def test_surge_changes_only_the_open_waiting_work_of_its_own_state(state, surge_world, make_user, make_case):
    held, closed = surge_world["items"][:2]
    WorkItem.objects.filter(pk=held.pk).update(status=WorkStatus.ACCEPTED)
    WorkItem.objects.filter(pk=closed.pk).update(status=WorkStatus.COMPLETED)
    elsewhere = Jurisdiction.objects.create(name="Other State", code="os")
    outside = WorkItem.objects.get(case=make_case(elsewhere, days_ago=1, first_name="Fuera"))
    changed = surge.surge_reprioritise(state=state, rules=SurgeRules())
    after = dict(WorkItem.objects.values_list("pk", "priority"))
    assert after[held.pk] == held.priority and after[closed.pk] == closed.priority
    assert after[outside.pk] == outside.priority
    assert changed >= 3 and changed == sum(1 for item in surge_world["items"][2:] if after[item.pk] != item.priority)
    assert surge.surge_reprioritise(state=state, rules=SurgeRules()) == 0  # nothing is written a second time


def test_the_surge_switch_is_audited_and_announced_without_the_reason(state, county, surge_world, make_user):
    admin = make_user(Role.ADMINISTRATOR, state)
    setting = surge.surge_switch(
        actor=admin, state=state, active=True, reason="  Ómicron   wave  ", rules=SurgeRules(recent_days=4, household_first=False)
    )
    assert (setting.active, setting.recent_days, setting.household_first, setting.reason) == (True, 4, False, "Ómicron wave")
    event = OutboxEvent.objects.get(name="SurgeSwitched")
    assert event.payload["jurisdiction_id"] == state.pk and event.payload["active"] is True
    assert event.payload["reprioritised"] > 0
    entry = AuditEntry.objects.get(object_type="surge_setting")
    assert (entry.actor_id, entry.jurisdiction_id, entry.object_id) == (admin.pk, state.pk, str(setting.pk))
    assert set(entry.fields) >= {"active", "recent_days", "household_first", "reason"}
    assert "wave" not in entry.detail and entry.detail == f"surge on: {event.payload['reprioritised']} work items re-prioritised"
    # A county lies in its state's surge.
    assert surge.rules_for(county.pk) == SurgeRules(recent_days=4, household_first=False)
    assert surge.rules_by_jurisdiction([county.pk, state.pk]) == dict.fromkeys([county.pk, state.pk], surge.rules_for(state.pk))


def test_only_the_states_administrators_and_supervisors_switch_surge(state, county, make_user):
    for user in (
        make_user(Role.SUPERVISOR, county),
        make_user(Role.ADMINISTRATOR, county),
        make_user(Role.CASE_INVESTIGATOR, state),
        make_user(Role.EPIDEMIOLOGIST, state),
    ):
        with pytest.raises(PermissionDenied):
            surge.surge_switch(actor=user, state=state, active=True, reason="wave")
    with pytest.raises(PermissionDenied):  # a county has no surge of its own: its state's applies
        surge.surge_switch(actor=make_user(Role.SUPERVISOR, state), state=county, active=True, reason="wave")
    assert not SurgeSetting.objects.exists()


@pytest.mark.parametrize(
    ("reason", "rules", "field"),
    [("   ", SurgeRules(), "reason"), ("x" * 121, SurgeRules(), "reason"), ("wave", SurgeRules(recent_days=0), "recent_days")],
)
def test_a_surge_switch_without_a_reason_or_with_bad_rules_is_refused(state, make_user, reason, rules, field):
    with pytest.raises(DomainError) as caught:
        surge.surge_switch(actor=make_user(Role.SUPERVISOR, state), state=state, active=True, reason=reason, rules=rules)
    assert caught.value.field == field
    assert not SurgeSetting.objects.exists()


def test_while_in_surge_the_periodic_refresh_follows_the_calendar(state, county, make_case, make_user):
    item = WorkItem.objects.get(case=make_case(county, days_ago=5))
    ordinary = item.priority
    surge.surge_switch(actor=make_user(Role.SUPERVISOR, state), state=state, active=True, reason="wave")
    item.refresh_from_db()
    assert item.priority == ordinary + surge.RECENT_POINTS
    with time_machine.travel(clock.now() + dt.timedelta(days=2), tick=False):
        assert surge.surge_refresh() == 1  # specimen 7 days ago: no longer recent
        assert surge.surge_refresh() == 0
    item.refresh_from_db()
    assert item.priority == ordinary
    run = AuditEntry.objects.filter(object_type="surge_setting").latest("pk")
    assert (run.actor_id, run.fields, run.detail) == (None, ["priority"], "surge on: 1 work items re-prioritised")
