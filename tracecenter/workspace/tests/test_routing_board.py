"""The supervisor's routing board: who opens it, what it shows, its actions through the page, its parts and pushes."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse

from conftest import run_background_work
from tracecenter.accounts.models import Team
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.core import events
from tracecenter.core.models import PushMessage
from tracecenter.people.services import PersonInput, person_create
from tracecenter.routing.events import OfferAnswered, OfferMade, WorkItemCreated, WorkItemRequeued
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Channel, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus
from tracecenter.routing.tests.board_world import MINUTE, bare_cases, offer, on_shift, work

pytestmark = pytest.mark.django_db
URL = "/routing/board/"
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def person(county):
    return person_create(actor=None, jurisdiction=county, data=PersonInput(first_name="Wilhelmina", last_name="Oyelaran"))


@pytest.fixture
def supervisor(users):
    return users[Role.SUPERVISOR]


@pytest.fixture
def cases(county, team, person):
    return bare_cases(4, county, person, team)


@pytest.fixture
def signed_in(client: Client, supervisor) -> Client:
    client.force_login(supervisor)
    return client


def _row(html: str, attribute: str, value: object) -> str:
    found = re.search(rf'<tr {attribute}="{value}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row {attribute}={value}"
    return found.group(1)


def _cell(row: str, name: str) -> str:
    found = re.search(rf'<td class="{name}">(.*?)</td>', row, re.S)
    assert found, name
    return found.group(1).strip()


# --- Who opens it.


def test_the_address_is_the_named_route():
    assert reverse("workspace:routing_board") == URL


def test_a_tracer_is_refused_and_the_refusal_audited(client: Client, users):
    for role in (Role.CONTACT_TRACER, Role.CASE_INVESTIGATOR, Role.ADMINISTRATOR):
        user = users[role]
        client.force_login(user)
        assert client.get(URL).status_code == 403
        assert client.get(URL + "?part=waiting").status_code == 403
        assert AuditEntry.objects.filter(actor_id=user.pk, action="denied", object_type="routing_board").count() == 2


def test_signed_out_goes_to_the_sign_in_page(client: Client):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_epidemiologist_watches_read_only(client: Client, users, cases):
    item = work(cases[0])
    epidemiologist = users[Role.EPIDEMIOLOGIST]
    client.force_login(epidemiologist)
    page = client.get(URL).content.decode()
    assert f'data-item="{item.pk}"' in page
    assert 'name="action"' not in page and "board-actions" not in page
    response = client.post(URL, {"action": "priority", "priority-item": item.pk, "priority-priority": 90, "priority-reason": "x"})
    assert response.status_code == 403
    assert WorkItem.objects.get(pk=item.pk).priority == 30
    assert AuditEntry.objects.filter(actor_id=epidemiologist.pk, action="denied", object_type="routing_board").exists()


def test_the_navigation_shows_the_board_to_those_who_watch_it(client: Client, users):
    for role, shown in ((Role.SUPERVISOR, True), (Role.EPIDEMIOLOGIST, True), (Role.CONTACT_TRACER, False)):
        client.force_login(users[role])
        assert (f'href="{URL}"' in client.get("/").content.decode()) is shown, role


def test_a_supervisor_of_another_county_sees_nothing_of_this_one(client: Client, make_user, other_county, cases, users):
    item = work(cases[0], queued_ago=HOUR)
    work(cases[1], status=WorkStatus.ACCEPTED, holder=users[Role.CASE_INVESTIGATOR])
    on_shift(users[Role.CASE_INVESTIGATOR], AgentStateChoice.BUSY)
    south = make_user(Role.SUPERVISOR, other_county)
    client.force_login(south)
    page = client.get(URL).content.decode()
    interviews = _row(page, "data-queue", "case_interview-voice")
    assert (_cell(interviews, "queued"), _cell(interviews, "in-progress"), _cell(interviews, "oldest")) == ("0", "0", "—")
    assert f'data-item="{item.pk}"' not in page and "No work is waiting." in page
    assert f'data-agent="{users[Role.CASE_INVESTIGATOR].pk}"' not in page
    # Nor can they act on it: refused as work that does not exist, and the attempt audited.
    response = client.post(
        URL, {"action": "priority", "priority-item": item.pk, "priority-priority": 90, "priority-reason": "Surge"}
    )
    assert response.status_code == 400
    assert "There is no work with this number among the work you supervise." in response.content.decode()
    assert WorkItem.objects.get(pk=item.pk).priority == 30
    assert AuditEntry.objects.filter(actor_id=south.pk, action="denied", object_type="work_item", object_id=str(item.pk)).exists()


# --- What it shows.


def test_the_board_shows_the_queues_the_tracers_and_the_waiting_work(signed_in: Client, users, cases, make_user, county, team):
    investigator = users[Role.CASE_INVESTIGATOR]
    on_shift(investigator, AgentStateChoice.BUSY, since_ago=75 * MINUTE)
    on_shift(users[Role.CONTACT_TRACER], AgentStateChoice.LUNCH, since_ago=20 * MINUTE, reason="lunch")
    work(cases[0], queued_ago=3 * HOUR, created_ago=3 * HOUR, priority=40, language="es")
    work(cases[1], queued_ago=10 * MINUTE, created_ago=10 * MINUTE, priority=20)
    work(cases[2], status=WorkStatus.ACCEPTED, holder=investigator, created_ago=10 * MINUTE)
    answered = work(cases[3], status=WorkStatus.OFFERED, created_ago=10 * MINUTE)
    offer(answered, investigator, offered_ago=9 * MINUTE, status=OfferStatus.REJECTED, answered_ago=9 * MINUTE)
    offer(answered, investigator, offered_ago=5 * MINUTE, status=OfferStatus.TIMED_OUT, answered_ago=4 * MINUTE)
    offer(answered, users[Role.SUPERVISOR], offered_ago=MINUTE)
    page = signed_in.get(URL).content.decode()
    interviews = _row(page, "data-queue", "case_interview-voice")
    assert [_cell(interviews, c) for c in ("queued", "offered", "in-progress", "rejected", "timed-out")] == [
        "2",
        "1",
        "1",
        "1",
        "1",
    ]
    assert _cell(interviews, "oldest").startswith("3 h 00 min")
    tracer = _row(page, "data-agent", investigator.pk)
    assert "Busy" in tracer and _cell(tracer, "in-state") == "1 h 15 min" and _cell(tracer, "held") == "1"
    assert "lunch" in _row(page, "data-agent", users[Role.CONTACT_TRACER].pk)
    first, second = re.findall(r'<tr data-item="(\d+)"', page)
    assert WorkItem.objects.get(pk=first).priority == 40 and WorkItem.objects.get(pk=second).priority == 20
    waiting = _row(page, "data-item", first)
    assert "Spanish" in waiting and f"Case {cases[0].pk}" in waiting and "North County" in waiting
    assert "Wilhelmina" not in page and "Oyelaran" not in page  # numbers, never the person
    assert 'data-live="work.board"' in page and "data-live-after" in page
    # The waiting items shown are in the trail, by number.
    entry = AuditEntry.objects.filter(actor_id=users[Role.SUPERVISOR].pk, object_type="work_item_list").latest("pk")
    assert entry.detail == f"ids {first},{second}"


def test_filters_that_do_not_hold_are_named_and_the_lists_shown_whole(signed_in: Client, cases):
    work(cases[0])
    response = signed_in.get(URL + "?kind=<script>&state=asleep")
    page = response.content.decode()
    assert response.status_code == 400
    assert "usa-form-group--error" in page and "<script>" not in page
    assert "1 item waits for a tracer" in page


def test_a_filter_narrows_the_waiting_work_and_the_tracers(signed_in: Client, cases, users):
    work(cases[0])
    callback = work(cases[1], kind=WorkKind.CALLBACK)
    on_shift(users[Role.CASE_INVESTIGATOR], AgentStateChoice.BREAK)
    on_shift(users[Role.CONTACT_TRACER], AgentStateChoice.AVAILABLE)
    page = signed_in.get(URL + "?kind=callback&state=break").content.decode()
    assert re.findall(r'<tr data-item="(\d+)"', page) == [str(callback.pk)]
    assert re.findall(r'<tr data-agent="(\d+)"', page) == [str(users[Role.CASE_INVESTIGATOR].pk)]
    assert "part=waiting&amp;kind=callback&amp;state=break" in page  # the live part keeps the filter


def test_a_page_number_that_does_not_hold_shows_a_page_that_does(signed_in: Client, cases):
    work(cases[0])
    for number in ("0", "abc", "99999999999999999999", "-1"):
        response = signed_in.get(URL + f"?page={number}&apage={number}")
        assert response.status_code == 200 and "1 item waits for a tracer" in response.content.decode()


# --- The parts a push refreshes.


def test_each_part_is_the_region_alone_checked_and_audited_as_the_page(signed_in: Client, cases, supervisor):
    item = work(cases[0])
    for part, marker in (
        ("queues", 'data-queue="case_interview-voice"'),
        ("agents", "board-agents-h"),
        ("waiting", f'data-item="{item.pk}"'),
    ):
        response = signed_in.get(URL + f"?part={part}")
        html = response.content.decode()
        assert response.status_code == 200 and marker in html, part
        assert "<html" not in html and "<h1" not in html
    assert AuditEntry.objects.filter(actor_id=supervisor.pk, object_type="work_item_list", detail=f"ids {item.pk}").count() == 1
    assert signed_in.get(URL + "?part=../../base").status_code == 404
    assert signed_in.get(URL + "?part=").status_code == 404


# --- The actions, through the page.


def test_a_supervisor_reprioritises_from_the_board(signed_in: Client, cases, supervisor):
    item = work(cases[0])
    response = signed_in.post(
        URL, {"action": "priority", "priority-item": item.pk, "priority-priority": "85", "priority-reason": "Surge"}
    )
    assert response.status_code == 302 and response["Location"] == URL
    assert WorkItem.objects.get(pk=item.pk).priority == 85
    assert f"Work {item.pk} now has priority 85." in signed_in.get(URL).content.decode()


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"priority-priority": "101"}, "priority", "Give a whole number from 0 to 100."),
        ({"priority-priority": "-5"}, "priority", "Give a whole number from 0 to 100."),
        ({"priority-priority": "1e9"}, "priority", "Give a whole number from 0 to 100."),
        ({"priority-priority": "50; DROP TABLE routing_workitem"}, "priority", "Give a whole number from 0 to 100."),
        ({"priority-priority": ""}, "priority", "Give the new priority."),
        ({"priority-reason": ""}, "reason", "Say why."),
        ({"priority-reason": "z" * 121}, "reason", "at most 120 characters (this has 121)"),
        ({"priority-reason": "a\x00b"}, "reason", "Null characters are not allowed."),
        ({"priority-item": "<script>alert(1)</script>"}, "item", "Give the number as digits."),
        ({"priority-item": "99999999999999999999"}, "item", "There is no such number."),
    ],
)
def test_a_bad_priority_change_is_refused_on_its_field(signed_in: Client, cases, data, field, words):
    item = work(cases[0])
    post = {"action": "priority", "priority-item": str(item.pk), "priority-priority": "60", "priority-reason": "Surge", **data}
    response = signed_in.post(URL, post)
    page = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_priority-{field}_error"' in page and words in page.replace("&#x27;", "'")
    assert "<script>alert(1)</script>" not in page
    assert WorkItem.objects.get(pk=item.pk).priority == 30


def test_closed_work_is_refused_with_the_reason_on_the_work_number(signed_in: Client, cases):
    done = work(cases[0], status=WorkStatus.COMPLETED, closed_ago=MINUTE)
    response = signed_in.post(
        URL, {"action": "priority", "priority-item": done.pk, "priority-priority": "90", "priority-reason": "Surge"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and 'id="id_priority-item_error"' in page and "This work is closed" in page


def test_an_unknown_action_is_refused(signed_in: Client):
    response = signed_in.post(URL, {"action": "delete_everything"})
    assert response.status_code == 400 and "Choose one of the board&#x27;s actions." in response.content.decode()


def test_a_supervisor_forces_a_state_from_the_board(signed_in: Client, users, supervisor):
    investigator = users[Role.CASE_INVESTIGATOR]
    on_shift(investigator, AgentStateChoice.AVAILABLE)
    page = signed_in.get(URL + f"?agent={investigator.pk}").content.decode()
    assert f'<option value="{investigator.pk}" selected>' in page  # the row's link chose them
    response = signed_in.post(
        URL, {"action": "state", "state-agent": investigator.pk, "state-state": "offline", "state-reason": "Shift over"}
    )
    assert response.status_code == 302
    status = AgentStatus.objects.get(user=investigator)
    assert (status.state, status.reason) == ("offline", "Shift over")
    response = signed_in.post(
        URL, {"action": "state", "state-agent": investigator.pk, "state-state": "offline", "state-reason": " "}
    )
    assert response.status_code == 400 and 'id="id_state-reason_error"' in response.content.decode()


def test_a_supervisor_moves_work_to_a_named_tracer_or_is_told_why_not(signed_in: Client, users, cases):
    investigator = users[Role.CASE_INVESTIGATOR]
    on_shift(investigator, AgentStateChoice.BREAK)
    item = work(cases[0])
    post = {"action": "move", "move-item": item.pk, "move-agent": investigator.pk}
    response = signed_in.post(URL, post)
    assert response.status_code == 400
    assert 'id="id_move-agent_error"' in response.content.decode() and "not taking work now (Break)" in response.content.decode()
    on_shift(investigator, AgentStateChoice.AVAILABLE)
    assert signed_in.post(URL, post).status_code == 302
    assert Offer.objects.get(item=item, status=OfferStatus.PENDING).agent == investigator
    assert "they have 45 seconds to accept it" in signed_in.get(URL).content.decode()


def test_the_actions_need_the_csrf_token(users, cases):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users[Role.SUPERVISOR])
    item = work(cases[0])
    response = client.post(
        URL, {"action": "priority", "priority-item": item.pk, "priority-priority": "90", "priority-reason": "Surge"}
    )
    assert response.status_code == 403
    assert WorkItem.objects.get(pk=item.pk).priority == 30


# --- Pushes: the boards over the work hear of it, tracers do not.


def test_new_work_offers_and_answers_are_pushed_to_the_boards_over_the_work(cases, team, county, state, users):
    item = work(cases[0])
    PushMessage.objects.all().delete()
    events.publish(WorkItemCreated(item_id=item.pk, kind=item.kind, jurisdiction_id=county.pk))
    run_background_work()
    groups = set(PushMessage.objects.filter(kind="work.board").values_list("group", flat=True))
    assert groups == {f"team.{team.pk}", f"jurisdiction.{county.pk}", f"jurisdiction.{state.pk}"}
    assert {tuple(d.items()) for d in PushMessage.objects.filter(kind="work.board").values_list("data", flat=True)} == {
        (("item_id", item.pk),)
    }
    for event in (
        OfferMade(offer_id=1, item_id=item.pk, agent_id=users[Role.CASE_INVESTIGATOR].pk, expires_at=item.queued_at),
        OfferAnswered(offer_id=1, item_id=item.pk, agent_id=users[Role.CASE_INVESTIGATOR].pk, status="rejected"),
        WorkItemRequeued(item_id=item.pk, jurisdiction_id=county.pk, not_before=item.queued_at),
    ):
        PushMessage.objects.all().delete()
        events.publish(event)
        run_background_work()
        assert f"team.{team.pk}" in set(PushMessage.objects.filter(kind="work.board").values_list("group", flat=True))
        assert not PushMessage.objects.filter(kind="work.board", group__startswith="user.").exists()


def test_a_burst_of_new_work_is_one_push_per_board_group(county, person, team, state):
    other_team = Team.objects.create(name="Team B", jurisdiction=county)
    items = [work(c) for c in bare_cases(30, county, person, team)] + [work(c) for c in bare_cases(5, county, person, other_team)]
    unteamed = work(bare_cases(1, county, person)[0])
    PushMessage.objects.all().delete()
    events.publish_many([WorkItemCreated(item_id=i.pk, kind=i.kind, jurisdiction_id=county.pk) for i in [*items, unteamed]])
    run_background_work()
    groups = list(PushMessage.objects.filter(kind="work.board").values_list("group", flat=True))
    assert sorted(groups) == sorted(
        [
            f"team.{team.pk}",
            f"team.{other_team.pk}",
            f"jurisdiction.{county.pk}",
            f"jurisdiction.{state.pk}",
            f"jurisdiction.{county.pk}.unteamed",
            f"jurisdiction.{state.pk}.unteamed",
        ]
    )


def test_the_waiting_count_reads_the_same_for_a_text_queue(signed_in: Client, cases):
    work(cases[0], kind=WorkKind.CONTACT_NOTIFICATION, channel=Channel.SMS, queued_ago=2 * MINUTE)
    row = _row(signed_in.get(URL).content.decode(), "data-queue", "contact_notification-sms")
    assert _cell(row, "queued") == "1" and _cell(row, "oldest") == "2 min"


@pytest.mark.parametrize(
    ("post", "field"),
    [
        ({"action": "move", "move-item": "1 OR 1=1", "move-agent": "1"}, "move-item"),
        ({"action": "move", "move-item": "1", "move-agent": "<img src=x onerror=alert(1)>"}, "move-agent"),
        ({"action": "move", "move-item": "1", "move-agent": "-3"}, "move-agent"),
        ({"action": "state", "state-agent": "1", "state-state": "root", "state-reason": "x"}, "state-state"),
        ({"action": "state", "state-agent": "1", "state-state": "break", "state-reason": "r" * 5000}, "state-reason"),
        ({"action": "state", "state-agent": "", "state-state": "break", "state-reason": "Pause"}, "state-agent"),
    ],
)
def test_hostile_or_malformed_actions_are_refused_on_their_field_and_change_nothing(signed_in: Client, users, cases, post, field):
    on_shift(users[Role.CASE_INVESTIGATOR], AgentStateChoice.AVAILABLE)
    work(cases[0])
    response = signed_in.post(URL, post)
    page = response.content.decode()
    assert response.status_code == 400 and f'id="id_{field}_error"' in page
    assert "<img src=x" not in page and "onerror=alert(1)>" not in page
    assert not Offer.objects.exists()
    assert AgentStatus.objects.get(user=users[Role.CASE_INVESTIGATOR]).state == AgentStateChoice.AVAILABLE


def test_a_tracer_of_another_county_cannot_be_given_work_from_the_board(
    signed_in: Client, cases, make_user, other_county, supervisor
):
    outsider = make_user(Role.CASE_INVESTIGATOR, other_county)
    on_shift(outsider)
    item = work(cases[0])
    page = signed_in.get(URL).content.decode()
    assert f'<option value="{outsider.pk}"' not in page  # not offered in the menus
    response = signed_in.post(URL, {"action": "move", "move-item": item.pk, "move-agent": outsider.pk})
    assert response.status_code == 400 and 'id="id_move-agent_error"' in response.content.decode()
    assert not Offer.objects.filter(item=item).exists()
    assert AuditEntry.objects.filter(actor_id=supervisor.pk, action="denied", object_id=str(outsider.pk)).exists()
