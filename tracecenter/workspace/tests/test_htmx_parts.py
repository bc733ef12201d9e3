"""Parts of a page that htmx updates come from the page's own view: the same checks, the same audit, no other address.

With the HX-Request header (and the id of the element it swaps into, HX-Target) the view answers with that part
alone; without it, with the whole page. Without script the page works as before: a plain form, a plain link.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry

SEARCH = reverse("workspace:person_search")
MY_WORK = reverse("workspace:my_work")


def _htmx(target: str) -> dict[str, str]:
    return {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": target}


@pytest.fixture
def case(users, make_case, county):
    return make_case(county, owner=users[Role.CASE_INVESTIGATOR], first_name="Ana", last_name="García")


def test_person_search_answers_htmx_with_the_results_alone_audited_as_the_page(client: Client, users, case):
    client.force_login(users[Role.SUPERVISOR])
    before = AuditEntry.objects.count()
    part = client.post(SEARCH, {"last_name": "Garcia"}, **_htmx("search-results"))
    assert part.status_code == 200
    html = part.content.decode()
    assert 'id="person-results"' in html and "Ana García" in html
    assert "<html" not in html and 'id="person-search"' not in html  # no page, no form around the results
    assert "HX-Request" in part["Vary"]
    entries = list(AuditEntry.objects.order_by("pk")[before:])
    assert [e.action for e in entries if e.action == "search"] == ["search"]
    assert str(case.person_id) in {e.object_id for e in entries if e.action == "read" and e.object_type == "person"}

    page = client.post(SEARCH, {"last_name": "Garcia"})
    assert page.status_code == 200
    assert "<html" in page.content.decode() and 'id="person-search"' in page.content.decode()
    assert 'hx-post="' + SEARCH + '"' in page.content.decode() and 'id="search-results"' in page.content.decode()


def test_a_bad_search_by_htmx_is_a_400_listing_each_problem_with_a_link_to_its_field(client: Client, users, case):
    client.force_login(users[Role.SUPERVISOR])
    part = client.post(SEARCH, {"first_name": "Ana", "date_of_birth": "2999-01-01"}, **_htmx("search-results"))
    assert part.status_code == 400
    html = part.content.decode()
    assert 'role="alert"' in html and 'href="#id_date_of_birth"' in html and "<html" not in html


def test_a_search_for_another_target_or_without_the_header_is_the_whole_page(client: Client, users, case):
    client.force_login(users[Role.SUPERVISOR])
    other = client.post(SEARCH, {"last_name": "Garcia"}, **_htmx("main"))
    assert "<html" in other.content.decode()


def test_a_role_without_records_gets_no_part_either(client: Client, users):
    client.force_login(users[Role.ADMINISTRATOR])
    assert client.post(SEARCH, {"last_name": "Garcia"}, **_htmx("search-results")).status_code == 403


def test_my_work_filters_answer_htmx_with_the_lists_alone(client: Client, users, case):
    client.force_login(users[Role.SUPERVISOR])
    before = AuditEntry.objects.count()
    part = client.get(MY_WORK, {"status": case.status}, **_htmx("work-lists"))
    assert part.status_code == 200
    html = part.content.decode()
    assert f"Case {case.pk}" in html and 'id="live-queue"' in html
    assert "<html" not in html and 'id="work-filters"' not in html
    assert AuditEntry.objects.filter(pk__gt=before_pk(before), action="read", object_type="case_list").exists()

    page = client.get(MY_WORK, {"status": case.status})
    assert "<html" in page.content.decode() and 'id="work-filters"' in page.content.decode()
    assert 'hx-target="#work-lists"' in page.content.decode()


def test_a_filter_that_does_not_hold_sends_the_filters_back_with_their_error(client: Client, users, case):
    client.force_login(users[Role.SUPERVISOR])
    part = client.get(MY_WORK, {"status": "nonsense"}, **_htmx("work-lists"))
    assert part.status_code == 400
    html = part.content.decode()
    assert 'id="work-filters"' in html and 'hx-swap-oob="true"' in html and "<html" not in html


def before_pk(count: int) -> int:
    """The pk of the entry `count` entries in (the entries written before it have smaller pks)."""
    return AuditEntry.objects.order_by("pk").values_list("pk", flat=True)[count - 1] if count else 0
