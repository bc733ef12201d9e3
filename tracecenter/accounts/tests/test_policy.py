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


def test_a_case_seen_through_a_contact_is_seen_in_part_and_nothing_more(make_case, county, users):
    from tracecenter.contacts.services import ExposureInput, exposure_add
    from tracecenter.people.services import PersonInput

    investigator, tracer = users[Role.CASE_INVESTIGATOR], users[Role.CONTACT_TRACER]
    case = make_case(county, owner=investigator)
    exposure = exposure_add(
        actor=investigator,
        case=case,
        person=PersonInput(first_name="Luis", last_name="Pérez"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    exposure.owner = tracer
    exposure.save()
    Act = policy.Act
    assert policy.acts(tracer, case) == {Act.SEE_LINKED}
    assert policy.acts(investigator, case) == {Act.SEE_LINKED, Act.READ, Act.EDIT}
    assert policy.acts(users[Role.SUPERVISOR], case) == set(Act)
    assert policy.acts(users[Role.EPIDEMIOLOGIST], case) == {Act.SEE_LINKED, Act.READ}
    assert policy.acts(users[Role.AUDITOR], case) == set()
    assert not policy.may(tracer, Act.EDIT, case) and policy.may(investigator, Act.EDIT, case)
    # In bulk, and asked of a record fetched through with_acts without another query.
    assert list(policy.permitted(Case.objects.all(), tracer, Act.SEE_LINKED)) == [case]
    assert not policy.permitted(Case.objects.all(), tracer, Act.READ).exists()
    with CaptureQueriesContext(connection) as ctx:
        fetched = policy.with_acts(Case.objects.all(), tracer).get(pk=case.pk)
        assert policy.acts(tracer, fetched) == {Act.SEE_LINKED}
        assert policy.acts(investigator, policy.with_acts(Case.objects.all(), investigator).get(pk=case.pk)) >= {Act.EDIT}
    assert len(ctx.captured_queries) == 2
    # The contact itself is the tracer's whole.
    assert policy.acts(tracer, exposure) == {Act.SEE_LINKED, Act.READ, Act.EDIT}
