"""The pages a tracer opens all day: query counts, headers, sign-in throttling."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.people.services import PersonInput


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_my_work_costs_the_same_queries_for_3_cases_as_for_12(client, users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    client.force_login(tracer)
    for i in range(3):
        make_case(county, owner=tracer, first_name=f"A{i}")
    few = _queries(client, "/")
    for i in range(9):
        make_case(county, owner=tracer, first_name=f"B{i}")
    assert _queries(client, "/") == few


def test_the_case_page_costs_the_same_queries_for_1_contact_as_for_8(client, users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=tracer)
    client.force_login(tracer)
    exposure_add(
        actor=tracer,
        case=case,
        person=PersonInput(first_name="C", last_name="Zero"),
        data=ExposureInput(last_exposure_date=case.specimen_collection_date),
    )
    url = reverse("workspace:case_detail", args=[case.pk])
    one = _queries(client, url)
    for i in range(7):
        exposure_add(
            actor=tracer,
            case=case,
            person=PersonInput(first_name="C", last_name=f"Number{i}x"),
            data=ExposureInput(last_exposure_date=case.specimen_collection_date),
        )
    assert _queries(client, url) == one


def test_pages_carry_the_security_headers(client, users):
    client.force_login(users[Role.CONTACT_TRACER])
    response = client.get("/")
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_sign_in_is_throttled_after_repeated_failures(client, users):
    user = users[Role.CONTACT_TRACER]
    for _ in range(5):
        response = client.post("/accounts/login/", {"username": user.username, "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": "correct-horse-battery-staple"})
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="login_failed").count() == 6  # five failures, then the refusal


def test_sign_in_and_out_are_audited(client, users):
    user = users[Role.SUPERVISOR]
    response = client.post("/accounts/login/", {"username": user.username, "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    client.post("/accounts/logout/")
    actions = list(AuditEntry.objects.filter(actor_id=user.pk).order_by("pk").values_list("action", flat=True))
    assert actions == ["login", "logout"]


@pytest.mark.parametrize("hostile", ["' OR 1=1 --", "<script>alert(1)</script>", "a" * 5000, "\u202e"])
def test_hostile_sign_in_input_is_refused_cleanly(client, db, hostile):
    response = client.post("/accounts/login/", {"username": hostile, "password": hostile})
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()


def test_no_page_address_carries_personal_data():
    from django.urls import URLPattern, URLResolver, get_resolver

    def routes(resolver, prefix=""):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from routes(entry, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                yield prefix + str(entry.pattern)

    found = list(routes(get_resolver()))
    assert "cases/<int:pk>/" in found  # the walk reaches the pages themselves, not only the includes
    # Addresses carry record ids only: a name, phone, e-mail or birth date in a URL ends up in logs and histories.
    # The one other parameter is the file name of a bundled static asset of the API docs.
    for route in found:
        for parameter in re.findall(r"<(?:\w+:)?(\w+)>", route):
            assert parameter == "pk" or parameter.endswith("_id") or route.startswith("api/docs/assets/"), route
