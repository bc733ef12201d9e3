"""Work created while a state is in surge gets its surge priority when it is created, not at the next re-prioritisation."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.contacts.models import Relationship
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.people.services import PersonInput
from tracecenter.routing import surge
from tracecenter.routing.models import WorkItem, WorkKind

pytestmark = pytest.mark.django_db


def test_work_created_in_surge_gets_its_surge_priority_at_once(state, county, make_case, make_user):
    before = WorkItem.objects.get(case=make_case(county, days_ago=2, first_name="Antes")).priority
    surge.surge_switch(actor=make_user(Role.SUPERVISOR, state), state=state, active=True, reason="wave")
    case = make_case(county, days_ago=2, first_name="Durante")
    assert WorkItem.objects.get(case=case).priority == before + surge.RECENT_POINTS
    exposure_add(
        actor=make_user(Role.CASE_INVESTIGATOR, county),
        case=case,
        person=PersonInput(first_name="Hogar", last_name="Contacto"),
        data=ExposureInput(last_exposure_date=clock.today() - dt.timedelta(days=1), relationship=Relationship.HOUSEHOLD_MEMBER),
    )
    run_background_work()
    item = WorkItem.objects.get(kind=WorkKind.CONTACT_NOTIFICATION)
    assert item.priority == before + 5 + surge.HOUSEHOLD_POINTS + surge.RECENT_EXPOSURE_POINTS
    assert surge.surge_reprioritise(state=state, rules=surge.rules_for(state.pk)) == 0  # already as the rule says


def test_a_batch_of_new_cases_in_surge(state, county, make_person, make_user, make_case):
    from tracecenter.routing.work import work_open_for_cases

    surge.surge_switch(actor=make_user(Role.SUPERVISOR, state), state=state, active=True, reason="wave")
    cases = [make_case(county, days_ago=d, first_name=f"N{d}") for d in (1, 9)]
    WorkItem.objects.all().delete()
    items = work_open_for_cases(case_ids=[c.pk for c in cases])
    by_case = {i.case_id: i.priority for i in items}
    assert by_case[cases[0].pk] - by_case[cases[1].pk] >= surge.RECENT_POINTS
