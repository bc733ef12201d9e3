"""Routing, end to end in a real browser: a positive lab result becomes a case-interview offer on the open
workspace of the tracer who speaks the person's language; a callback comes back at its time; the interview's
contacts become notifications offered to the next tracers."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.models import Proficiency, UserLanguage
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case
from tracecenter.contacts.models import Exposure
from tracecenter.core import clock
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.synthetic import SyntheticReport, oru_r01
from tracecenter.routing.claims import agent_set_state
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Attempt, Offer, OfferStatus, WorkItem, WorkKind

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _spanish_positive() -> str:
    text = oru_r01(
        SyntheticReport(
            control_id="ROUTE0001",
            first_name="Rocío",
            last_name="Valdivieso",
            date_of_birth=dt.date(1988, 6, 9),
            collected=clock.today() - dt.timedelta(days=1),
            accession="ROUTEACC1",
            phone="6175550188",
            county="North",
        )
    )
    pid = text.split("\r")[1]
    fields = pid.split("|") + [""] * (16 - len(pid.split("|")))
    fields[15] = "SPA^Spanish^HL70296"  # PID-15, the patient's primary language
    return text.replace(pid, "|".join(fields))


def _live(page) -> None:
    page.locator("#live-status").filter(has_text="Live updates on").wait_for(timeout=15_000)
    page.evaluate("window.__notReloaded = true")


def test_a_positive_reaches_the_spanish_speaking_tracer_live_and_the_work_flows_on(
    browser, asgi_server, state, county, team, make_user
):
    english = make_user(Role.CASE_INVESTIGATOR, county, team, username="investigator.en")
    spanish = make_user(Role.CASE_INVESTIGATOR, county, team, username="investigator.es")
    UserLanguage.objects.create(user=spanish, language="es", proficiency=Proficiency.FLUENT)
    tracers = [make_user(Role.CONTACT_TRACER, county, team, username=f"tracer.{n}") for n in (1, 2)]
    for user in (english, spanish, *tracers):
        agent_set_state(actor=user, agent=user, state=AgentStateChoice.AVAILABLE)
    # The English speaker has waited longest: only the language can send the case to the other.
    AgentStatus.objects.filter(user=english).update(idle_since=clock.now() - dt.timedelta(hours=2))

    page = browser.new_context(locale="en-US").new_page()
    page.set_default_timeout(20_000)
    sign_in(page, asgi_server, spanish.username)
    page.get_by_role("heading", name="Work offered to me").wait_for()
    _live(page)
    assert page.locator(".desk-offer").count() == 0

    # The lab's message arrives (HL7 v2 ORU^R01, Spanish): a case, its interview, routed, pushed.
    run = Intake(root=state)
    run.ingest_bytes(_spanish_positive().encode(), filename="feed.hl7")
    run.finish()
    offer_card = page.locator(".desk-offer").filter(has_text="Case interview")
    offer_card.wait_for(timeout=15_000)
    assert page.evaluate("window.__notReloaded") is True  # pushed, not a reload
    offer_card.locator(".countdown").filter(has_text="seconds left to answer").wait_for()
    assert "Valdivieso" not in offer_card.inner_text()  # nothing of the person before the work is accepted
    case = Case.objects.get()  # the only case: the one the message opened
    assert not Offer.objects.filter(agent=english).exists()

    # Accept: the case opens with the attempt's controls. Nobody answers; the tracer sets a time to try again.
    offer_card.get_by_role("button", name="Accept").click()
    page.get_by_role("heading", name="Attempt 1: record how it went").wait_for()
    assert f"Case {case.pk}" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_label("How did it go?").select_option("no_answer")
    again = (clock.now() + dt.timedelta(seconds=25)).astimezone(ZoneInfo("America/New_York")).replace(microsecond=0)
    page.get_by_label("Call back at").fill(again.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Record the attempt").click()
    page.get_by_text("Attempt 1 recorded. It comes back").wait_for()
    _live(page)
    assert page.locator(".desk-offer").count() == 0

    # At its time, the same tracer (who tried first) is offered it again, on the open page.
    callback_card = page.locator(".desk-offer").filter(has_text="Tried 1 time before.")
    callback_card.wait_for(timeout=60_000)
    assert clock.now() >= again
    assert page.evaluate("window.__notReloaded") is True
    callback_card.get_by_role("button", name="Accept").click()
    page.get_by_role("heading", name="Attempt 2: record how it went").wait_for()

    # Reached: the interview names two contacts; the attempt is recorded as reached.
    page.get_by_role("link", name="Record the interview").click()
    today = clock.today()
    for index, (first, last) in enumerate([("Inés", "Valdivieso"), ("Tomás", "Quiroga")]):
        if index:
            page.get_by_role("button", name="Add a contact").click()
        page.locator(f"[name='contacts-{index}-first_name']").fill(first)
        page.locator(f"[name='contacts-{index}-last_name']").fill(last)
        page.locator(f"[name='contacts-{index}-phone']").fill(f"617-555-02{index}7")
        page.locator(f"[name='contacts-{index}-last_exposure_date']").fill((today - dt.timedelta(days=1)).isoformat())
    page.get_by_label("No symptoms").check()
    page.get_by_role("button", name="Save the interview").click()
    page.get_by_text("Interview saved.").wait_for()
    page.get_by_label("How did it go?").select_option("reached")
    page.get_by_role("button", name="Record the attempt").click()
    page.get_by_text("Attempt 2 recorded. This work is done.").wait_for()
    item = WorkItem.objects.get(case=case, kind=WorkKind.CASE_INTERVIEW)
    assert list(Attempt.objects.filter(item=item).values_list("disposition", flat=True)) == ["no_answer", "reached"]

    # Each contact's notification is offered to the next free tracer: one each (one call at a time).
    exposures = list(Exposure.objects.filter(case=case))
    assert len(exposures) == 2
    deadline = time.monotonic() + 15
    while Offer.objects.filter(item__exposure__in=exposures, status=OfferStatus.PENDING).count() < 2:
        assert time.monotonic() < deadline, "the contacts' notifications were not offered"
        time.sleep(0.2)
    offered_to = set(
        Offer.objects.filter(item__exposure__in=exposures, status=OfferStatus.PENDING).values_list("agent_id", flat=True)
    )
    assert len(offered_to) == 2 and offered_to <= {english.pk, spanish.pk, *(t.pk for t in tracers)}
