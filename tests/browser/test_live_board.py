"""The supervisor's routing board stays current by itself: new work and a tracer's state appear without a reload."""

from __future__ import annotations

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.routing.models import AgentStateChoice, WorkItem
from tracecenter.routing.supervision import agent_force_state
from tracecenter.routing.tests.board_world import on_shift

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_new_work_and_a_forced_state_reach_an_open_board_live(browser, asgi_server, county, team, make_user, make_case):
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.board")
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.board")
    on_shift(tracer, AgentStateChoice.LUNCH)  # not taking work: the new interview stays waiting
    page = browser.new_context(locale="en-US").new_page()
    sign_in(page, asgi_server, supervisor.username)
    page.goto(f"{asgi_server.url}/routing/board/")
    page.locator("#live-status").filter(has_text="Live updates on").wait_for(timeout=10_000)
    page.evaluate("window.__notReloaded = true")
    assert page.locator("#board-waiting").get_by_text("No work is waiting.").count() == 1

    case = make_case(county, first_name="Ingeborg", last_name="Vasquez-Lindqvist")  # its interview is created
    item = WorkItem.objects.get(case=case)
    page.locator(f'#board-waiting tr[data-item="{item.pk}"]').wait_for(timeout=3_000)
    page.locator('#board-queues tr[data-queue="case_interview-voice"] td.queued', has_text="1").wait_for(timeout=1_000)

    agent_force_state(actor=supervisor, agent_id=tracer.pk, state=AgentStateChoice.OFFLINE, reason="Shift over")
    row = page.locator(f'#board-agents tr[data-agent="{tracer.pk}"]')
    row.get_by_text("Shift over").wait_for(timeout=3_000)
    assert row.get_by_text("Offline").count() == 1
    assert page.evaluate("window.__notReloaded") is True
    assert "Ingeborg" not in page.content()
    # The regions were fetched again through the board's own view: the waiting list read is on the trail.
    assert AuditEntry.objects.filter(actor_id=supervisor.pk, object_type="work_item_list", detail__contains=str(item.pk)).exists()
