"""The pages a tracer opens all day stay within an absolute number of queries.

Measured with real commits (no test transaction around the request): what runs after the
commit (the wake-up of the workers) is counted too, as it runs in production.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.contacts.services import ExposureInput, exposure_add
from tracecenter.people.services import PersonInput

pytestmark = pytest.mark.django_db(transaction=True)

# Each page's budget, and what it pays for: the session and the user, the access policy's
# fetch, the rows shown (each related list in one query), the audit entries of the reads.
BUDGETS = {
    "my_work": 19,  # session, user, jurisdiction, cases, contacts, 2 list entries and 2 inserts of one entry per record,
    # latest push, session save (3 on SQLite); the jurisdictions of the filter, the two lists of finished work
    # (and their list entry, when there is any); the routing desk: the tracer's state, offers, work held
    "case_detail": 14,  # with the routed work the reader holds on it (one query: the attempt's form)
    "interview": 10,  # with the contacts and places recorded before (one query each)
    "contact_detail": 13,  # with the contact's history (one query, however long), the routed work the reader holds on it
    # session, user, the person through the policy, its read entry; phones, earlier names, cases, lab results,
    # exposures, contacts named, places, timeline, whether editable; the list entries of the persons named; session
    "person_detail": 19,
}


def queries(client: Client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
        assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def worked_case(users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=tracer)
    for i in range(5):
        exposure = exposure_add(
            actor=tracer,
            case=case,
            person=PersonInput(first_name="Contact", last_name=f"Number{i}x", phones=[f"617555010{i}"]),
            data=ExposureInput(last_exposure_date=case.specimen_collection_date),
        )
        exposure.owner = tracer
        exposure.save(update_fields=["owner"])
    for i in range(4):
        make_case(county, owner=tracer, first_name=f"Other{i}")
    return tracer, case, exposure


@pytest.mark.parametrize("page", sorted(BUDGETS))
def test_a_page_a_tracer_opens_all_day_stays_within_its_query_budget(page, client, worked_case):
    tracer, case, exposure = worked_case
    client.force_login(tracer)
    url = {
        "my_work": reverse("workspace:my_work"),
        "case_detail": reverse("workspace:case_detail", args=[case.pk]),
        "interview": reverse("workspace:interview", args=[case.pk]),
        "contact_detail": reverse("workspace:contact_detail", args=[exposure.pk]),
        "person_detail": reverse("workspace:person_detail", args=[case.person_id]),
    }[page]
    client.get(url)  # warm: the first request of a session may read more (language, CSRF)
    run = queries(client, url)
    assert len(run) <= BUDGETS[page], "\n".join(run)
