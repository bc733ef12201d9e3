"""The main list pages at a phone's width (390 px): nothing widens the page; wide tables scroll in their own box.

Screenshots are written to NARROW_SCREENSHOTS (a folder) when it is set, to look at them.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.core import clock
from tracecenter.intake.models import InboundMessage
from tracecenter.intake.pipeline import Intake
from tracecenter.intake.synthetic import SyntheticReport, oru_r01
from tracecenter.people.services import PersonInput

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG_NAME = "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaftschaferswessen"


def _fits(page, name: str) -> None:
    folder = os.environ.get("NARROW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= 390, f"{name}: the page is {wide} px wide at 390 px"
    # Every table is either narrow enough or inside a box that scrolls it.
    loose = page.evaluate(
        """[...document.querySelectorAll('main table')].filter(t => {
            const box = t.closest('.table-scroll');
            return !box || getComputedStyle(box).overflowX !== 'auto';
        }).length"""
    )
    assert loose == 0, f"{name}: a table outside a scrolling box"


def test_the_main_pages_fit_a_phone(browser, live_server, county, team, make_user, make_case):
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(15_000)
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.north")
    case = make_case(county, owner=tracer, first_name=LONG_NAME, last_name=LONG_NAME)
    exposure_add(
        actor=tracer,
        case=case,
        person=PersonInput(first_name="Marta", last_name=LONG_NAME),
        data=ExposureInput(last_exposure_date=clock.today() - dt.timedelta(days=1)),
    )
    # A rejected message whose raw text is one long line.
    report = SyntheticReport(
        control_id="NARROW1" + "X" * 150,
        first_name="",
        last_name="",
        date_of_birth=dt.date(1980, 1, 2),
        collected=clock.today() - dt.timedelta(days=2),
        accession="NARROWACC1",
        street="1 " + "Long" * 60 + " Street",
    )
    run = Intake(root=county)
    run.ingest_bytes(oru_r01(report).encode(), filename="narrow.hl7")
    run.finish()
    message = InboundMessage.objects.get(state="rejected")

    sign_in(page, live_server, tracer.username)
    _fits(page, "my-work")
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    _fits(page, "case")
    page.goto(f"{live_server.url}/cases/{case.pk}/interview/")
    _fits(page, "interview")
    # At a phone's width the navigation, with the sign-out, is behind the Menu button (USWDS's header).
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, live_server, supervisor.username)
    _fits(page, "my-work-supervisor")
    page.goto(f"{live_server.url}/intake/")
    _fits(page, "lab-intake")
    page.goto(f"{live_server.url}/intake/messages/{message.pk}/")
    _fits(page, "intake-message")
    page.goto(f"{live_server.url}/identity/reviews/")
    _fits(page, "identity-reviews")
    context.close()
