"""A tracer records an interview in a real browser; a tracer of another county is refused."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case, RuleSet
from tracecenter.core import clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_tracer_records_an_interview_with_three_contacts_and_a_place(
    page, live_server, state, county, other_county, team, make_user, make_case
):
    # The state's guidance in force: 10 days of quarantine (not the built-in 14), so the dates prove the rule was used.
    RuleSet.objects.create(jurisdiction=state, effective_from=dt.date(2020, 1, 1), quarantine_days=10, isolation_days=10)
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    outsider = make_user(Role.CONTACT_TRACER, other_county, username="tracer.south")
    case = make_case(county, owner=tracer, days_ago=3)
    today = clock.today()
    onset = today - dt.timedelta(days=4)

    sign_in(page, live_server, tracer.username)
    page.get_by_role("link", name=f"Case {case.pk}").click()
    page.get_by_role("heading", level=1).filter(has_text=f"Case {case.pk}").wait_for()
    page.get_by_role("link", name="Record the interview").click()

    page.get_by_label("Symptom onset").fill(onset.isoformat())
    page.get_by_label("Symptom onset").dispatch_event("change")
    expected_start = (onset - dt.timedelta(days=2)).isoformat()
    page.locator("#derived-infectious").filter(has_text=expected_start).wait_for()
    page.get_by_label("Cough").check()

    page.get_by_role("button", name="Add a place").click()
    page.locator("[name='visits-0-place_name']").fill("Grace Church choir room")
    page.locator("[name='visits-0-place_kind']").select_option("worship")
    page.locator("[name='visits-0-event_name']").fill("Choir rehearsal")
    page.locator("[name='visits-0-day']").fill((today - dt.timedelta(days=5)).isoformat())
    page.locator("[name='visits-0-arrived']").fill("18:00")
    page.locator("[name='visits-0-left']").fill("20:00")

    contacts = [
        ("Marta", "Reyes", "household_member", "household", 1),
        ("John", "Okafor", "coworker", "work", 3),
        ("Lena", "Schmidt", "friend", "social", 5),
    ]
    for index, (first, last, relationship, setting, days_ago) in enumerate(contacts):
        if index > 0:
            page.get_by_role("button", name="Add a contact").click()
        page.locator(f"[name='contacts-{index}-first_name']").fill(first)
        page.locator(f"[name='contacts-{index}-last_name']").fill(last)
        page.locator(f"[name='contacts-{index}-phone']").fill(f"617-25{index}-01{index}4")
        page.locator(f"[name='contacts-{index}-relationship']").select_option(relationship)
        page.locator(f"[name='contacts-{index}-setting']").select_option(setting)
        page.locator(f"[name='contacts-{index}-last_exposure_date']").fill((today - dt.timedelta(days=days_ago)).isoformat())
    page.get_by_role("button", name="Save the interview").click()

    page.get_by_text("Interview saved.").wait_for()
    rows = page.locator("#contacts-table tbody tr")
    assert rows.count() == 3
    for first, last, _rel, _setting, days_ago in contacts:
        row = rows.filter(has_text=f"{first} {last}")
        expected_end = (today - dt.timedelta(days=days_ago) + dt.timedelta(days=10)).isoformat()
        assert row.locator(".quarantine-end").inner_text() == expected_end
    assert "Grace Church choir room" in page.locator("#places-h + ul").inner_text()

    # The contact page shows the exposure, its quarantine and the way back to the case.
    rows.filter(has_text="Marta Reyes").get_by_role("link").click()
    assert page.locator("#quarantine-end").inner_text() == (today - dt.timedelta(days=1) + dt.timedelta(days=10)).isoformat()
    page.get_by_role("link", name=f"Case {case.pk}").click()
    page.get_by_role("button", name="Sign out").click()

    # A tracer of another county cannot open the case, even knowing its address: not found, as a case that is not there.
    sign_in(page, live_server, outsider.username)
    response = page.goto(f"{live_server.url}/cases/{case.pk}/")
    assert response is not None and response.status == 404
    assert "Marta" not in page.content() and "García" not in page.content()
    case.refresh_from_db()
    assert case.status == "interviewed" and Case.objects.get(pk=case.pk).exposures.count() == 3
