"""Nothing a signed-in user is shown may be kept by a browser or proxy cache: pages and API alike."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.api.services import api_token_create


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


@pytest.mark.parametrize("page", ["workspace:my_work", "workspace:case_detail", "workspace:audit_log"])
def test_every_page_for_a_signed_in_user_says_no_store(client, users, make_case, county, page):
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=tracer)
    client.force_login(users[Role.AUDITOR] if page == "workspace:audit_log" else tracer)
    response = client.get(reverse(page, args=[case.pk] if page == "workspace:case_detail" else []))
    assert response.status_code == 200
    assert no_store(response)
    assert "private" in response["Cache-Control"]


def test_refusals_and_redirects_for_a_signed_in_user_say_no_store_too(client, users):
    client.force_login(users[Role.CONTACT_TRACER])
    assert no_store(client.get(reverse("workspace:audit_log")))  # 403


def test_api_answers_say_no_store_with_a_session_or_a_token(users, make_case, county):
    investigator = users[Role.CASE_INVESTIGATOR]
    case = make_case(county, owner=investigator)
    session = Client()
    session.force_login(investigator)
    _token, raw = api_token_create(actor=None, user=investigator, name="script", scopes=["read"], days=30)
    token = Client(headers={"Authorization": f"Bearer {raw}"})
    for client in (session, token):
        for path in ("/api/cases", f"/api/cases/{case.pk}", f"/api/persons/{case.person_id}"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert no_store(response), path


def test_the_public_assets_of_the_api_docs_stay_cacheable(db, users):
    signed_in = Client()
    signed_in.force_login(users[Role.EPIDEMIOLOGIST])
    asset = signed_in.get("/api/docs/assets/swagger-ui.css")
    assert "public" in asset["Cache-Control"] and not no_store(asset)
