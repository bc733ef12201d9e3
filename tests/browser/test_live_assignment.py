"""A case a supervisor assigns appears on the tracer's open "My work" page, and on the supervisor's queue, without a reload."""

from __future__ import annotations

import time

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.cases.services import case_assign
from tracecenter.core.models import PushMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def live(page) -> None:
    page.locator("#live-status").filter(has_text="Live updates on").wait_for(timeout=10_000)
    page.evaluate("window.__notReloaded = true")


def test_an_assignment_reaches_the_tracer_and_the_supervisors_queue_live(
    browser, asgi_server, county, team, make_user, make_case
):
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.north")
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    case = make_case(county, first_name="Rosalind", last_name="Achterberg")
    earlier = make_case(county, first_name="Earlier")
    case_assign(actor=supervisor, case=earlier, assignee=tracer)  # pushed before the page is opened
    deadline = time.monotonic() + 10
    while not PushMessage.objects.filter(group=f"user.{tracer.pk}").exists():
        assert time.monotonic() < deadline, "the worker beside the server pushed nothing"
        time.sleep(0.05)

    tracer_page = browser.new_context(locale="en-US").new_page()
    refetched: list[str] = []

    tracer_page.on("request", lambda request: refetched.append(request.url) if "part=" in request.url else None)
    sign_in(tracer_page, asgi_server, tracer.username)
    tracer_page.get_by_role("link", name=f"Case {earlier.pk}").wait_for()
    live(tracer_page)
    tracer_page.wait_for_timeout(1000)  # (Playwright hands over the page's events while it waits)
    assert refetched == []  # connecting (and catching up on what the page already shows) fetches nothing

    queue_context = browser.new_context(locale="en-US")
    queue = queue_context.new_page()
    sign_in(queue, asgi_server, supervisor.username)
    row = queue.locator("#live-queue tr", has=queue.get_by_role("link", name=f"Case {case.pk}"))
    row.get_by_text("Unassigned").wait_for()
    live(queue)

    # The same supervisor, in another tab, assigns the case on its page.
    assigning = queue_context.new_page()
    assigning.goto(f"{asgi_server.url}/cases/{case.pk}/")
    assigning.get_by_label("Assign to").select_option(label=f"{tracer.display_name} (Contact tracer)")
    assigning.get_by_role("button", name="Assign").click()
    assigning.get_by_text("Assignment saved.").wait_for()

    # Within two seconds of the confirmation, on both open pages.
    tracer_page.get_by_role("link", name=f"Case {case.pk}").wait_for(timeout=2_000)
    tracer_page.get_by_text("Rosalind Achterberg").wait_for(timeout=500)
    row.get_by_text(tracer.display_name).wait_for(timeout=2_000)
    # Without a reload: what the pages' script did, not a navigation.
    assert tracer_page.evaluate("window.__notReloaded") is True
    assert queue.evaluate("window.__notReloaded") is True
    # The tracer's page fetched the list again through its audited view: the read is on the trail.
    assert AuditEntry.objects.filter(actor_id=tracer.pk, object_type="case_list", detail__contains=str(case.pk)).exists()


def test_a_page_that_lost_its_connection_catches_up_on_what_it_missed(
    browser, asgi_server, county, team, make_user, make_case, users
):
    from tracecenter.cases.services import case_assign

    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.offline")
    case = make_case(county, first_name="Ottilie", last_name="Brandvold")
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    sign_in(page, asgi_server, tracer.username)
    live(page)

    context.set_offline(True)  # the laptop's network drops (or it sleeps)
    page.evaluate("window.dispatchEvent(new Event('offline'))")
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=tracer)  # meanwhile, the case is given to them
    time.sleep(1.5)
    assert page.get_by_role("link", name=f"Case {case.pk}").count() == 0
    context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    page.get_by_role("link", name=f"Case {case.pk}").wait_for(timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
