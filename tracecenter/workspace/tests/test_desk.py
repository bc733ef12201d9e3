"""The tracer's live desk on My work: state, offers with their countdown, accept, decline, wrap-up, next task."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from conftest import run_background_work
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.core import clock
from tracecenter.core.models import PushMessage
from tracecenter.routing.claims import agent_set_state
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Offer, OfferStatus, WorkItem, WorkStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def tracer(make_user, county, team):
    user = make_user(Role.CASE_INVESTIGATOR, county, team, username="desk.tracer")
    agent_set_state(actor=user, agent=user, state=AgentStateChoice.AVAILABLE)
    return user


def _offer(make_case, county, tracer) -> Offer:
    case = make_case(county, first_name="Dora", state="CA")
    run_background_work()
    offer = Offer.objects.get(item__case=case, status=OfferStatus.PENDING)
    assert offer.agent == tracer
    return offer


def test_an_offer_is_pushed_to_its_tracer_and_shown_with_its_countdown_and_no_name(client, make_case, county, tracer):
    offer = _offer(make_case, county, tracer)
    pushed = PushMessage.objects.filter(group=f"user.{tracer.pk}", kind="work.offer")
    assert pushed.filter(data__offer_id=offer.pk).exists()
    client.force_login(tracer)
    page = client.get(reverse("workspace:my_work"))
    html = page.content.decode()
    assert f'id="offer-{offer.pk}"' in html and "seconds left to answer" in html
    part = client.get(reverse("workspace:my_work") + "?part=routing").content.decode()
    assert f"Case {offer.item.case_id}" in part
    assert "Dora" not in part  # an offer opens nothing: no name before it is accepted
    assert AuditEntry.objects.filter(actor_id=tracer.pk, object_type="work_desk", detail__contains=str(offer.item_id)).exists()


def test_accept_opens_the_record_with_its_attempt_form(client, make_case, county, tracer):
    offer = _offer(make_case, county, tracer)
    client.force_login(tracer)
    response = client.post(reverse("workspace:offer_accept", args=[offer.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("workspace:case_detail", args=[offer.item.case_id])
    page = client.get(response["Location"]).content.decode()
    assert "Attempt 1: record how it went" in page and "Dora" in page
    assert "America/Los_Angeles" in page  # the callback time is asked in the person's own time


def test_wrap_up_with_a_callback_in_the_persons_time(client, make_case, county, tracer):
    offer = _offer(make_case, county, tracer)
    client.force_login(tracer)
    client.post(reverse("workspace:offer_accept", args=[offer.pk]))
    url = reverse("workspace:wrap_up", args=[offer.item_id])
    local = (clock.now() + dt.timedelta(days=1)).astimezone(ZoneInfo("America/Los_Angeles")).replace(microsecond=0)
    for bad, said in (
        ({"disposition": "call_back"}, "Say when to call back."),
        ({"disposition": "call_back", "callback_at": "tomorrow at five"}, "Enter a date and time like"),
        ({"disposition": "call_back", "callback_at": "2026-12-02T17:30:00+05:00"}, "without a time zone"),
        ({"disposition": "call_back", "callback_at": "9" * 500}, "Nothing was recorded"),
        ({"disposition": "<b>reached</b>"}, "Nothing was recorded"),
        ({}, "Nothing was recorded"),
    ):
        response = client.post(url, {**bad, "from": "record"}, follow=True)
        assert WorkItem.objects.get(pk=offer.item_id).status == WorkStatus.ACCEPTED, bad
        assert said in response.content.decode(), bad
    response = client.post(url, {"disposition": "call_back", "callback_at": local.replace(tzinfo=None).isoformat()}, follow=True)
    item = WorkItem.objects.get(pk=offer.item_id)
    assert (item.status, item.callback, item.not_before) == (WorkStatus.QUEUED, True, local)
    assert "Attempt 1 recorded. It comes back" in response.content.decode()


def test_decline_needs_a_reason_and_someone_else_gets_it(client, make_case, county, tracer, make_user, team):
    other = make_user(Role.CASE_INVESTIGATOR, county, team)
    agent_set_state(actor=other, agent=other, state=AgentStateChoice.AVAILABLE)
    AgentStatus.objects.filter(user=other).update(idle_since=clock.now() + dt.timedelta(hours=1))  # idle the least
    offer = _offer(make_case, county, tracer)
    client.force_login(tracer)
    client.post(reverse("workspace:offer_reject", args=[offer.pk]), {"reason": "  "})
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.PENDING
    client.post(reverse("workspace:offer_reject", args=[offer.pk]), {"reason": "x" * 500})
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.PENDING
    client.post(reverse("workspace:offer_reject", args=[offer.pk]), {"reason": "I know the family"})
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.REJECTED
    run_background_work()
    assert Offer.objects.get(item=offer.item, status=OfferStatus.PENDING).agent == other


def test_someone_elses_offer_and_work_are_refused(client, make_case, county, tracer, make_user, team):
    offer = _offer(make_case, county, tracer)
    intruder = make_user(Role.CASE_INVESTIGATOR, county, team)
    client.force_login(intruder)
    response = client.post(reverse("workspace:offer_accept", args=[offer.pk]), follow=True)
    assert "This offer is not yours." in response.content.decode()
    response = client.post(reverse("workspace:wrap_up", args=[offer.item_id]), {"disposition": "reached"}, follow=True)
    assert "This work is not yours to finish." in response.content.decode()
    assert Offer.objects.get(pk=offer.pk).status == OfferStatus.PENDING


def test_state_changes_and_next_task(client, make_case, county, tracer):
    client.force_login(tracer)
    client.post(reverse("workspace:agent_state"), {"state": "lunch", "reason": ""})
    assert AgentStatus.objects.get(user=tracer).state == AgentStateChoice.LUNCH
    response = client.post(reverse("workspace:agent_state"), {"state": "asleep"}, follow=True)
    assert "Your state was not changed" in response.content.decode()
    case = make_case(county)
    run_background_work()  # nobody on: it waits
    assert WorkItem.objects.get(case=case).status == WorkStatus.QUEUED
    response = client.post(reverse("workspace:next_task"))
    assert response["Location"] == reverse("workspace:case_detail", args=[case.pk])
    assert WorkItem.objects.get(case=case).holder == tracer
    response = client.post(reverse("workspace:next_task"), follow=True)
    assert "Record how the work you hold went before you take more." in response.content.decode()
    client.post(reverse("workspace:wrap_up", args=[WorkItem.objects.get(case=case).pk]), {"disposition": "reached"})
    response = client.post(reverse("workspace:next_task"), follow=True)
    assert "Nothing is waiting for you now" in response.content.decode()


def test_the_desk_actions_are_post_only_and_need_a_sign_in(client):
    for name, args in (("agent_state", []), ("next_task", []), ("offer_accept", [1]), ("offer_reject", [1]), ("wrap_up", [1])):
        url = reverse(f"workspace:{name}", args=args)
        assert client.post(url).status_code == 302 and "/accounts/login/" in client.post(url)["Location"]
