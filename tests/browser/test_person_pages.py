"""The person pages in a real browser: search by a misspelled name and by phone, one person with all their
exposures, a tracer's correction of a phone seen in the audit trail."""

from __future__ import annotations

import pytest

from tests.browser.pages import htmx_swap, sign_in
from tracecenter.accounts.roles import Role
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.people.services import PersonInput

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contact_of_two_cases(county, team, make_user, make_case):
    """William Brown, named as a contact by two cases (one person, two exposures), followed by one tracer."""
    investigator = make_user(Role.CASE_INVESTIGATOR, county, team, username="investigator.north")
    tracer = make_user(Role.CONTACT_TRACER, county, team, username="tracer.north")
    first = make_case(county, owner=investigator)
    second = make_case(county, owner=investigator, first_name="Rosa", last_name="Díaz", phones=["617-555-0188"])
    exposures = []
    person = PersonInput(first_name="William", last_name="Brown", phones=["617-555-0199"])
    for case in (first, second):
        exposure = exposure_add(
            actor=investigator, case=case, person=person, data=ExposureInput(last_exposure_date=case.specimen_collection_date)
        )
        person = exposure.person  # the second case names the same person, found by the search
        exposure.owner = tracer
        exposure.save()
        exposures.append(exposure)
    return {"tracer": tracer, "investigator": investigator, "exposures": exposures, "person": person}


def _search(page, **fields: str) -> None:
    page.get_by_role("link", name="Find a person").click()
    for label, value in fields.items():
        page.get_by_label(label, exact=True).fill(value)
    # The results replace themselves (htmx): wait until they have.
    htmx_swap(page, page.get_by_role("button", name="Search").click)


def test_search_finds_a_person_by_a_misspelled_name_and_by_phone(page, live_server, contact_of_two_cases):
    sign_in(page, live_server, "tracer.north")
    _search(page, **{"First name": "Wiliam", "Last name": "Browne"})
    results = page.locator("#person-results tbody tr")
    assert results.count() == 1 and "William Brown" in results.inner_text()
    # Nothing of the search in the address: it was POSTed.
    assert "Brown" not in page.url and "Wiliam" not in page.url

    _search(page, Phone="(617) 555 0199")
    assert page.locator("#person-results tbody tr").count() == 1
    page.get_by_role("link", name="William Brown").click()
    page.get_by_role("heading", level=1, name="William Brown").wait_for()


def test_the_person_page_shows_a_contact_named_by_two_cases_once_with_both_exposures(page, live_server, contact_of_two_cases):
    first, second = contact_of_two_cases["exposures"]
    sign_in(page, live_server, "tracer.north")
    # My work: one line for the person, with both contacts.
    rows = page.locator("#my-contacts-table tbody tr")
    assert rows.count() == 1
    assert rows.get_by_role("link", name=f"Contact {first.pk}").count() == 1
    assert rows.get_by_role("link", name=f"Contact {second.pk}").count() == 1
    rows.get_by_role("link", name="William Brown").click()
    exposures = page.locator("#person-exposures tbody tr")
    assert exposures.count() == 2
    for exposure in (first, second):
        assert exposures.get_by_role("link", name=f"Contact {exposure.pk}").count() == 1
    # The tracer follows the contacts, not the cases: neither case's person is on the page.
    assert "Rosa Díaz" not in page.content() and "Ana García" not in page.content()


def test_a_tracer_edits_a_phone_and_the_audit_shows_it(page, live_server, contact_of_two_cases, make_user, county):
    make_user(Role.AUDITOR, county, username="auditor.north")
    person = contact_of_two_cases["person"]
    sign_in(page, live_server, "tracer.north")
    page.goto(f"{live_server.url}/persons/{person.pk}/")
    page.get_by_role("link", name="Edit the person").click()
    page.get_by_label("Phones (one a line)").fill("617-555-0142")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("The person's details were saved.").wait_for()
    assert page.locator("#person-phones").inner_text() == "+16175550142"
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, live_server, "auditor.north")
    page.get_by_role("link", name="Audit trail").click()
    row = page.locator("tbody tr").filter(has_text=f"person {person.pk}").filter(has_text="phones").first
    assert "tracer.north" in row.inner_text()
    # The field is named, never its value.
    assert "555" not in page.locator("table").inner_text()
