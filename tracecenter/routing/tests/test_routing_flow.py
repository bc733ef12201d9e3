"""Routing in the database: work from the case's flow, offers to the right tracer, answers, timeouts, closing."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import run_background_work
from tracecenter.accounts import policy
from tracecenter.accounts.models import Proficiency, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.models import Case, CaseStatus
from tracecenter.cases.services import case_change_status
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.core.errors import DomainError
from tracecenter.people.services import PersonInput
from tracecenter.routing.attempts import work_wrap_up
from tracecenter.routing.claims import agent_set_state, claim, offer_accept, offer_reject, offers_expire, route
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def investigators(make_user, county, team):
    """Two case investigators on shift: one speaks English only, the other Spanish too (fluent)."""
    english = make_user(Role.CASE_INVESTIGATOR, county, team)
    spanish = make_user(Role.CASE_INVESTIGATOR, county, team)
    UserLanguage.objects.create(user=spanish, language="es", proficiency=Proficiency.FLUENT)
    for user in (english, spanish):
        agent_set_state(actor=user, agent=user, state=AgentStateChoice.AVAILABLE)
    # The English speaker has waited longer: among equals, they would be first.
    AgentStatus.objects.filter(user=english).update(idle_since=clock.now() - dt.timedelta(hours=1))
    return {"english": english, "spanish": spanish}


def _interview(case: Case) -> WorkItem:
    return WorkItem.objects.get(case=case, kind=WorkKind.CASE_INTERVIEW)


def test_a_case_opened_needs_an_interview_offered_to_a_tracer_who_speaks_the_persons_language(make_case, county, investigators):
    case = make_case(county, preferred_language="es")
    run_background_work()  # the item's creation routes it at once
    item = _interview(case)
    assert (item.language, item.channel, item.status) == ("es", "voice", WorkStatus.OFFERED)
    (offer,) = Offer.objects.filter(item=item)
    assert offer.agent == investigators["spanish"] and offer.status == OfferStatus.PENDING
    assert AuditEntry.objects.filter(object_type="work_item", object_id=str(item.pk), action="assign").exists()


def test_work_in_the_working_language_goes_to_the_longest_idle(make_case, county, investigators):
    case = make_case(county, preferred_language="en")
    run_background_work()
    assert Offer.objects.get(item=_interview(case)).agent == investigators["english"]


def test_an_event_delivered_twice_makes_one_piece_of_work(make_case, county):
    from tracecenter.routing.work import work_open_for_case

    case = make_case(county)
    assert work_open_for_case(case_id=case.pk) is None  # already open
    assert WorkItem.objects.filter(case=case).count() == 1


def test_accepting_holds_the_work_and_opens_the_record_to_the_holder(make_case, county, investigators, make_user):
    owner = make_user(Role.CASE_INVESTIGATOR, county)  # the case's owner, not on shift: the work goes to another
    case = make_case(county, preferred_language="es", owner=owner)
    from tracecenter.routing.work import work_follow_owner

    work_follow_owner(case_id=case.pk, owner_id=owner.pk)
    run_background_work()
    spanish = investigators["spanish"]
    offer = Offer.objects.get(item__case=case)
    assert not policy.may(spanish, policy.Act.READ, case)  # offered is not held: the record stays closed
    item = offer_accept(actor=spanish, offer_id=offer.pk)
    assert (item.status, item.holder) == (WorkStatus.ACCEPTED, spanish)
    assert Case.objects.get(pk=case.pk).owner == owner  # a case with an owner keeps them
    assert policy.may(spanish, policy.Act.READ, Case.objects.get(pk=case.pk))
    assert AgentStatus.objects.get(user=spanish).state == AgentStateChoice.BUSY
    work_wrap_up(actor=spanish, item_id=item.pk, disposition="reached")
    assert not policy.may(spanish, policy.Act.READ, Case.objects.get(pk=case.pk))  # the work ended
    assert AgentStatus.objects.get(user=spanish).state == AgentStateChoice.AVAILABLE


def test_accepting_work_on_a_record_nobody_owns_makes_the_tracer_its_owner(make_case, county, investigators):
    case = make_case(county, preferred_language="es")
    run_background_work()
    spanish = investigators["spanish"]
    offer_accept(actor=spanish, offer_id=Offer.objects.get(item__case=case).pk)
    case.refresh_from_db()
    assert (case.owner, case.status) == (spanish, CaseStatus.ASSIGNED)
    assert AuditEntry.objects.filter(object_type="case", object_id=str(case.pk), action="assign", detail="routed").exists()


def test_a_rejected_offer_goes_to_the_next_tracer_never_back(make_case, county, investigators):
    case = make_case(county)
    run_background_work()
    first = Offer.objects.get(item__case=case)
    with pytest.raises(DomainError) as caught:
        offer_reject(actor=first.agent, offer_id=first.pk, reason="   ")
    assert caught.value.field == "reason"
    offer_reject(actor=first.agent, offer_id=first.pk, reason="I know this family")
    run_background_work()  # back in its queue: routed again at once
    second = Offer.objects.get(item__case=case, status=OfferStatus.PENDING)
    assert second.agent != first.agent
    assert _interview(case).excluded == [first.agent_id]


def test_an_offer_not_answered_in_time_returns_and_its_tracer_is_set_not_ready(make_case, county, investigators):
    case = make_case(county)
    run_background_work()
    offer = Offer.objects.get(item__case=case)
    assert offers_expire(now=offer.expires_at - dt.timedelta(seconds=1)) == 0
    assert offers_expire(now=offer.expires_at) == 1
    offer.refresh_from_db()
    status = AgentStatus.objects.get(user=offer.agent)
    assert offer.status == OfferStatus.TIMED_OUT
    assert (status.state, status.reason) == (AgentStateChoice.OFFLINE, "missed an offer")
    with pytest.raises(DomainError, match="has ended"):
        offer_accept(actor=offer.agent, offer_id=offer.pk)
    run_background_work()
    assert Offer.objects.get(item__case=case, status=OfferStatus.PENDING).agent != offer.agent


def test_never_above_capacity_and_never_the_same_item_twice(make_case, county, investigators):
    AgentStatus.objects.filter(user=investigators["english"]).update(state=AgentStateChoice.OFFLINE)
    first, second = make_case(county, first_name="Uno"), make_case(county, first_name="Dos")
    run_background_work()
    # One call at a time: the Spanish speaker (the only one on) is offered one of the two interviews.
    assert Offer.objects.filter(status=OfferStatus.PENDING).count() == 1
    waiting = WorkItem.objects.get(status=WorkStatus.QUEUED)
    assert waiting.case in (first, second)
    assert claim(item_id=waiting.pk, agent_id=investigators["spanish"].pk, step=0, now=clock.now()) is None
    offered = WorkItem.objects.get(status=WorkStatus.OFFERED)
    AgentStatus.objects.filter(user=investigators["english"]).update(state=AgentStateChoice.AVAILABLE)
    assert claim(item_id=offered.pk, agent_id=investigators["english"].pk, step=0, now=clock.now()) is None
    assert len(route()) == 1  # the other interview, to the English speaker
    assert Offer.objects.filter(status=OfferStatus.PENDING).count() == 2


def test_an_offer_is_answered_only_by_its_tracer(make_case, county, investigators):
    case = make_case(county)
    run_background_work()
    offer = Offer.objects.get(item__case=case)
    other = investigators["english"] if offer.agent == investigators["spanish"] else investigators["spanish"]
    with pytest.raises(DomainError, match="not yours"):
        offer_accept(actor=other, offer_id=offer.pk)
    with pytest.raises(DomainError, match="not yours"):
        offer_accept(actor=offer.agent, offer_id=offer.pk + 1000)


def test_closing_the_case_closes_its_work_and_withdraws_the_offer(make_case, county, investigators, users):
    case = make_case(county)
    run_background_work()
    case_change_status(actor=users[Role.SUPERVISOR], case=case, to_status=CaseStatus.CLOSED, reason="Duplicate report")
    run_background_work()
    item = _interview(case)
    assert (item.status, item.close_reason) == (WorkStatus.CANCELED, "case closed")
    assert Offer.objects.get(item=item).status == OfferStatus.WITHDRAWN


def test_a_contact_elicited_needs_a_notification_household_first(make_case, county, users):
    case = make_case(county, owner=users[Role.CASE_INVESTIGATOR])
    run_background_work()
    for first_name, relationship in (("Coworker", "coworker"), ("Sibling", "household_member")):
        exposure_add(
            actor=users[Role.CASE_INVESTIGATOR],
            case=case,
            person=PersonInput(first_name=first_name, last_name="Contact", phones=[]),
            data=ExposureInput(last_exposure_date=case.specimen_collection_date, relationship=relationship),
        )
    run_background_work()
    items = {i.exposure.person.first_name: i for i in WorkItem.objects.filter(kind=WorkKind.CONTACT_NOTIFICATION)}
    assert set(items) == {"Coworker", "Sibling"}
    assert items["Sibling"].priority > items["Coworker"].priority


def test_a_tracer_sets_their_own_state_and_only_a_supervisor_with_a_reason_sets_another(county, users, make_user):
    tracer = users[Role.CONTACT_TRACER]
    agent_set_state(actor=tracer, agent=tracer, state=AgentStateChoice.LUNCH)
    assert AgentStatus.objects.get(user=tracer).state == AgentStateChoice.LUNCH
    with pytest.raises(DomainError, match="listed values"):
        agent_set_state(actor=tracer, agent=tracer, state="asleep")
    other = make_user(Role.CONTACT_TRACER, county)
    with pytest.raises(DomainError):
        agent_set_state(actor=other, agent=tracer, state=AgentStateChoice.AVAILABLE, reason="x")
    with pytest.raises(DomainError, match="Say why"):
        agent_set_state(actor=users[Role.SUPERVISOR], agent=tracer, state=AgentStateChoice.AVAILABLE)
    agent_set_state(actor=users[Role.SUPERVISOR], agent=tracer, state=AgentStateChoice.AVAILABLE, reason="Lunch over")
    trail = AuditEntry.objects.filter(object_type="agent_status", object_id=str(tracer.pk)).order_by("pk")
    assert [(e.actor_id, e.action) for e in trail] == [
        (tracer.pk, "update"),
        (other.pk, "denied"),
        (users[Role.SUPERVISOR].pk, "update"),
    ]


def test_a_surge_of_cases_gets_its_interviews_in_one_batch_once_each(make_case, county):
    from tracecenter.core.models import OutboxEvent
    from tracecenter.routing.work import work_open_for_cases

    cases = [make_case(county, first_name=name) for name in ("Uno", "Dos", "Tres")]
    WorkItem.objects.filter(case=cases[1]).delete()
    WorkItem.objects.filter(case=cases[2]).update(status=WorkStatus.COMPLETED)  # done: a new one may open
    before = OutboxEvent.objects.filter(name="WorkItemCreated").count()
    made = work_open_for_cases(case_ids=[c.pk for c in cases])
    assert sorted(i.case_id for i in made) == [cases[1].pk, cases[2].pk]  # the first still has its open interview
    assert WorkItem.objects.filter(case=cases[0]).count() == 1
    assert OutboxEvent.objects.filter(name="WorkItemCreated").count() == before + 2
    assert (
        AuditEntry.objects.filter(object_type="work_item", action="create", object_id__in=[str(i.pk) for i in made]).count() == 2
    )


def test_a_reason_or_disposition_too_long_is_refused_never_cut(make_case, county, investigators, users):
    tracer = users[Role.CONTACT_TRACER]
    with pytest.raises(DomainError, match="at most 120") as caught:
        agent_set_state(actor=tracer, agent=tracer, state=AgentStateChoice.BREAK, reason="x" * 121)
    assert caught.value.field == "reason"
    case = make_case(county)
    run_background_work()
    offer = Offer.objects.get(item__case=case)
    with pytest.raises(DomainError, match="at most 120"):
        offer_reject(actor=offer.agent, offer_id=offer.pk, reason="y" * 121)
    item = offer_accept(actor=offer.agent, offer_id=offer.pk)
    for bad in ("", "z" * 25, "no answer; call later", "reached\x00", "<script>"):
        with pytest.raises(DomainError) as caught:
            work_wrap_up(actor=offer.agent, item_id=item.pk, disposition=bad)
        assert caught.value.field == "disposition"
    assert work_wrap_up(actor=offer.agent, item_id=item.pk, disposition="no_answer").disposition == "no_answer"
