"""The interview form in a real browser: every error of a save at once, a summary that jumps to each field,
and Enter in a one-line field does not send the form half filled."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.browser.pages import sign_in
from tracecenter.accounts.roles import Role
from tracecenter.contacts.models import Exposure
from tracecenter.core import clock

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_interview_with_three_errors_shows_all_three_and_enter_does_not_submit(
    page, live_server, county, team, make_user, make_case
):
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    case = make_case(county, owner=tracer, days_ago=3)
    today = clock.today()
    sign_in(page, live_server, tracer.username)
    page.goto(f"{live_server.url}/cases/{case.pk}/interview/")
    interview_url = page.url

    # Enter in a text field does nothing: the form is still there, unsent.
    page.locator("[name='contacts-0-first_name']").fill("Marta")
    page.locator("[name='contacts-0-first_name']").press("Enter")
    page.locator("[name='contacts-0-last_name']").fill("Reyes")
    page.locator("[name='contacts-0-last_name']").press("Enter")
    page.wait_for_timeout(500)
    assert page.url == interview_url and page.locator("#error-summary").count() == 0
    # A textarea keeps Enter as a line break.
    page.get_by_label("Interview notes").fill("first line")
    page.get_by_label("Interview notes").press("Enter")
    page.get_by_label("Interview notes").press_sequentially("second line")
    assert page.get_by_label("Interview notes").input_value() == "first line\nsecond line"

    # Three errors, in three contacts: each a rule the service checks.
    page.get_by_label("No symptoms").check()
    page.locator("[name='contacts-0-phone']").fill("not a phone")
    page.locator("[name='contacts-0-last_exposure_date']").fill((today - dt.timedelta(days=1)).isoformat())
    page.get_by_role("button", name="Add a contact").click()
    page.locator("[name='contacts-1-first_name']").fill("John")
    page.locator("[name='contacts-1-last_name']").fill("Okafor")
    page.locator("[name='contacts-1-last_exposure_date']").fill((today - dt.timedelta(days=40)).isoformat())
    page.get_by_role("button", name="Add a contact").click()
    page.locator("[name='contacts-2-first_name']").fill("Lena")
    page.locator("[name='contacts-2-last_name']").fill("Schmidt")
    page.locator("[name='contacts-2-last_exposure_date']").fill((today + dt.timedelta(days=3)).isoformat())
    page.get_by_role("button", name="Save the interview").click()

    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "3 problems to fix" in summary.inner_text()
    links = summary.get_by_role("link")
    assert links.count() == 3
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert [links.nth(i).get_attribute("href") for i in range(3)] == [
        "#id_contacts-0-phone",
        "#id_contacts-1-last_exposure_date",
        "#id_contacts-2-last_exposure_date",
    ]
    assert page.locator(".usa-error-message").count() == 3  # and each beside its field
    links.nth(1).click()
    assert page.url.endswith("#id_contacts-1-last_exposure_date")
    assert page.locator("#id_contacts-1-last_exposure_date").is_visible()
    assert Exposure.objects.count() == 0
