"""403 and 404 are TraceCenter's own pages, and a 404 never tells whether a record exists."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders
from django.urls import reverse

from tracecenter.accounts.roles import Role


def without_csrf_tokens(page: str) -> str:
    """The page less its CSRF tokens, which differ at every rendering and say nothing of the record."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def test_a_missing_case_and_a_case_out_of_reach_get_the_same_404_page(client, users, make_case, county, other_county):
    elsewhere = make_case(other_county)
    client.force_login(users[Role.CONTACT_TRACER])
    out_of_reach = client.get(reverse("workspace:case_detail", args=[elsewhere.pk]))
    missing_pk = elsewhere.pk + 1000
    missing = client.get(reverse("workspace:case_detail", args=[missing_pk]))
    assert out_of_reach.status_code == missing.status_code == 404
    assert [t.name for t in missing.templates][:2] == ["404.html", "base.html"]
    shown = without_csrf_tokens(out_of_reach.content.decode())
    assert shown == without_csrf_tokens(missing.content.decode())
    assert f"/cases/{elsewhere.pk}/" not in shown  # not even the address asked for
    assert "Page not found" in shown and "usa-header" in shown and "My work" in shown


def test_a_page_the_role_may_not_use_gets_the_403_page_with_the_header(client, users):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.get(reverse("workspace:audit_log"))
    assert response.status_code == 403
    page = response.content.decode()
    assert [t.name for t in response.templates][:2] == ["403.html", "base.html"]
    assert "Not allowed" in page and "usa-header" in page and 'lang="en"' in page


def test_the_404_page_speaks_the_readers_language(client, users):
    client.force_login(users[Role.CONTACT_TRACER])
    client.cookies["django_language"] = "es"
    page = client.get("/no-such-page/").content.decode()
    assert '<html lang="es">' in page


def test_a_favicon_is_linked_and_favicon_ico_leads_to_it(client, users):
    client.force_login(users[Role.CONTACT_TRACER])
    page = client.get(reverse("workspace:my_work")).content.decode()
    link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page)
    assert link is not None and link.group(1).endswith("tracecenter/favicon.svg")
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response["Location"] == link.group(1)
    icon = finders.find("tracecenter/favicon.svg")
    assert icon is not None
    with open(icon, encoding="utf-8") as svg:
        assert svg.read().startswith("<svg")


def test_favicon_ico_needs_no_sign_in(client, db):
    assert client.get("/favicon.ico").status_code == 302
