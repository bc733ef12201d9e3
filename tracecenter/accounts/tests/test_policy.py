"""The access policy asked in bulk, and the holders of work that routing will register."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from tracecenter.accounts import policy
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.cases.selectors import cases_visible_to

pytestmark = pytest.mark.django_db


def test_a_queue_of_ten_thousand_cases_is_filtered_in_one_query(make_case, county, users):
    supervisor, tracer = users[Role.SUPERVISOR], users[Role.CONTACT_TRACER]
    seed = make_case(county)
    Case.objects.bulk_create(
        [Case(person_id=seed.person_id, jurisdiction_id=county.pk, owner=tracer if n % 10 == 0 else None) for n in range(10_000)],
        batch_size=2000,
    )
    with CaptureQueriesContext(connection) as ctx:
        mine = list(cases_visible_to(tracer).values_list("pk", flat=True))
        queue = cases_visible_to(supervisor).count()
    assert len(ctx.captured_queries) == 2  # one each, however many rows
    assert len(mine) == 1000 and queue == 10_001


def test_whoever_holds_open_work_on_a_record_sees_it_through_the_same_policy(make_case, county, users, make_user):
    helper = make_user(Role.CONTACT_TRACER, county, username="helper")
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    held = {case.pk}
    assert not cases_visible_to(helper).exists()

    def holds(user):  # what routing will register: the records of the open work items the user holds
        return Q(pk__in=held) if user.pk == helper.pk else Q(pk__in=[])

    policy.register_holder("cases.case", holds)
    try:
        assert list(cases_visible_to(helper)) == [case]
        held.clear()  # the work is done: the record is theirs no more
        assert not cases_visible_to(helper).exists()
    finally:
        policy._HOLDERS["cases.case"].remove(holds)
