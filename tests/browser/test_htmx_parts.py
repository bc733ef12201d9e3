"""htmx in a real browser: My work's filters and Find a person's typing update their part of the page in place,
without loading the page again, and the address follows the filters (never a name)."""

from __future__ import annotations

import pytest

from tests.browser.pages import htmx_swap, sign_in
from tracecenter.accounts.roles import Role
from tracecenter.cases.models import Case, CaseStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mark_document(page) -> None:
    page.evaluate("() => { window.__sameDocument = true; }")


def _same_document(page) -> bool:
    return page.evaluate("() => window.__sameDocument === true")


def test_a_filter_replaces_the_lists_without_a_reload_and_the_address_follows(
    page, live_server, county, team, make_user, make_case
):
    supervisor = make_user(Role.SUPERVISOR, county, team, username="supervisor.north")
    waiting = make_case(county, first_name="Ana", last_name="García")
    trying = make_case(county, first_name="Luis", last_name="Pérez")
    Case.objects.filter(pk=trying.pk).update(status=CaseStatus.ATTEMPTING)
    sign_in(page, live_server, supervisor.username)
    queue = page.locator("#live-queue tbody")
    assert f"Case {waiting.pk}" in queue.inner_text() and f"Case {trying.pk}" in queue.inner_text()
    _mark_document(page)

    htmx_swap(page, lambda: page.get_by_label("Status").select_option(CaseStatus.ATTEMPTING))
    assert _same_document(page), "the page was loaded again"
    assert "status=attempting" in page.url and "Luis" not in page.url
    queue = page.locator("#live-queue tbody")
    assert f"Case {trying.pk}" in queue.inner_text() and f"Case {waiting.pk}" not in queue.inner_text()
    assert page.get_by_label("Status").input_value() == CaseStatus.ATTEMPTING  # the filters stay as chosen

    # The address is the filtered page: loaded anew (a bookmark, Back), it shows the same lists.
    page.reload()
    assert f"Case {waiting.pk}" not in page.locator("#live-queue tbody").inner_text()


def test_find_a_person_shows_results_as_one_types(page, live_server, county, team, make_user, make_case):
    tracer = make_user(Role.CASE_INVESTIGATOR, county, team, username="investigator.north")
    make_case(county, owner=tracer, first_name="William", last_name="Brown")
    sign_in(page, live_server, tracer.username)
    page.get_by_role("link", name="Find a person").click()
    _mark_document(page)
    htmx_swap(page, lambda: page.get_by_label("Last name", exact=True).fill("Brown"))
    assert _same_document(page)
    assert "William Brown" in page.locator("#person-results").inner_text()
    assert "Brown" not in page.url
