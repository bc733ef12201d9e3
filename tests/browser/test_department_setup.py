"""A department sets itself up in a real browser, from an empty database: the acceptance path of
tracecenter/workspace/tests/test_department_setup.py, clicked through in headless Chromium."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from tests.browser.pages import sign_in_first_time
from tracecenter.accounts.models import User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "the chief's own long passphrase"
TRACER_PASSWORD = "my very own tracer passphrase"


def add_tracer(page, username: str, first: str, last: str, languages: list[tuple[str, str]]) -> str:
    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("User name").fill(username)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Role").select_option(label="Contact tracer")
    page.get_by_label("Jurisdiction").select_option(label="North County")
    page.get_by_label("Team", exact=True).select_option(label="Night shift (North County)")
    for index, (code, proficiency) in enumerate(languages):
        if index > 0:
            page.get_by_role("button", name="Add a language").click()
        page.locator(f"[name='languages-{index}-language']").select_option(code)
        page.locator(f"[name='languages-{index}-proficiency']").select_option(proficiency)
    page.get_by_role("button", name="Create the user").click()
    page.get_by_role("heading", name=f"{first} {last} was created").wait_for()
    return page.locator("#temporary-password").inner_text()


def test_an_administrator_sets_up_a_county_and_a_tracer_starts_work(page, live_server, monkeypatch):
    monkeypatch.setenv("TRACECENTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    call_command("createadmin", "--username", "chief", "--jurisdiction-code", "xs", "--jurisdiction-name", "Example State")

    # The first sign-in of each: the password, then an authenticator app set up from the page (MFA is required).
    assert len(sign_in_first_time(page, live_server, "chief", ADMIN_PASSWORD)) == 10
    page.get_by_role("link", name="Administration", exact=True).click()
    page.get_by_role("link", name="Add a jurisdiction below Example State").click()
    page.get_by_label("Name").fill("North County")
    page.get_by_label("Code").fill("xs-north")
    page.get_by_label("Time zone").select_option("America/Chicago")
    page.get_by_role("button", name="Create the jurisdiction").click()
    page.get_by_text("North County was created.").wait_for()

    page.get_by_role("link", name="Add a team to North County").click()
    page.get_by_label("Team name").fill("Night shift")
    page.get_by_role("button", name="Create the team").click()
    page.get_by_text("The team Night shift was created.").wait_for()

    temporary = add_tracer(page, "lucia", "Lucía", "Herrera", [("es", "native"), ("en", "fluent")])
    add_tracer(page, "kevin", "Kevin", "Tran", [("en", "native")])

    page.get_by_role("link", name="Jurisdictions and teams").click()
    page.get_by_role("link", name="Rule versions of North County").click()
    page.get_by_label("In force from").fill("2022-01-01")
    page.get_by_label("Isolation days").fill("5")
    page.get_by_label("Quarantine days").fill("10")
    page.get_by_role("button", name="Add the version").click()
    page.get_by_text("In force today").wait_for()
    page.get_by_role("button", name="Sign out").click()

    sign_in_first_time(page, live_server, "lucia", temporary)
    page.wait_for_url(f"{live_server.url}/accounts/password/")
    page.get_by_label("Old password").fill(temporary)
    page.get_by_label("New password", exact=True).fill(TRACER_PASSWORD)
    page.get_by_label("New password confirmation").fill(TRACER_PASSWORD)
    page.get_by_role("button", name="Change the password").click()
    page.get_by_role("heading", level=1, name="My work").wait_for()

    lucia = User.objects.get(username="lucia")
    assert not lucia.must_change_password
    assert dict(lucia.spoken_languages.values_list("language", "proficiency")) == {"es": "native", "en": "fluent"}
