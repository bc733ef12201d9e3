"""The auditor's page: filters by user, record, action and date; the chain's verification state."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.audit.models import AuditEntry
from tracecenter.audit.services import audit_check_run, audit_record, seal_all
from tracecenter.core import clock

URL = "workspace:audit_log"


@pytest.fixture
def entries(users, county):
    tracer, investigator = users[Role.CONTACT_TRACER], users[Role.CASE_INVESTIGATOR]
    audit_record(actor=tracer, action="read", object_type="case", object_id=41, jurisdiction_id=county.pk, detail="marker-a")
    audit_record(actor=tracer, action="update", object_type="contact", object_id=7, jurisdiction_id=county.pk, detail="marker-b")
    audit_record(
        actor=investigator, action="read", object_type="case", object_id=41, jurisdiction_id=county.pk, detail="marker-c"
    )
    return tracer, investigator


def _table(response) -> str:
    return response.content.decode().split('id="audit-entries"')[1].split("</table>")[0]


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"object_type": "case", "object_id": "41"}, {"marker-a", "marker-c"}, {"marker-b"}),
        ({"action": "update"}, {"marker-b"}, {"marker-a", "marker-c"}),
    ],
)
def test_the_trail_filters_by_record_and_action(client: Client, users, entries, query, shown, hidden):
    client.force_login(users[Role.AUDITOR])
    table = _table(client.get(reverse(URL), query))
    assert all(m in table for m in shown) and not any(m in table for m in hidden)


def test_the_trail_filters_by_user_and_date(client: Client, users, entries):
    tracer, _ = entries
    client.force_login(users[Role.AUDITOR])
    table = _table(client.get(reverse(URL), {"username": tracer.username.upper()}))
    assert "marker-a" in table and "marker-b" in table and "marker-c" not in table
    today = clock.today()
    assert "marker-a" in _table(client.get(reverse(URL), {"date_from": today.isoformat(), "date_to": today.isoformat()}))
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert "marker-a" not in _table(client.get(reverse(URL), {"date_to": yesterday}))


def test_the_filtered_read_is_itself_audited_with_the_question(client: Client, users, entries):
    auditor = users[Role.AUDITOR]
    client.force_login(auditor)
    client.get(reverse(URL), {"object_type": "case", "object_id": "41"})
    read = AuditEntry.objects.filter(actor_id=auditor.pk, object_type="audit_log").latest("pk")
    assert "object_type=case" in read.detail and "object_id=41" in read.detail


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"object_type": "case' OR 1=1 --"}, "object_type"),
        ({"object_id": "<script>alert(1)</script>"}, "object_id"),
        ({"action": "drop_table"}, "action"),
        ({"date_from": "2026-02-30"}, "date_from"),
        ({"date_from": "2026-05-02", "date_to": "2026-05-01"}, "date_to"),
        ({"username": "u" * 151}, "username"),
    ],
)
def test_a_bad_filter_is_named_on_its_field(client: Client, users, entries, query, field):
    client.force_login(users[Role.AUDITOR])
    response = client.get(reverse(URL), query)
    assert response.status_code == 400
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page
    assert "<script>alert(1)</script>" not in page


def test_the_page_shows_the_chains_verification_state(client: Client, users, entries):
    client.force_login(users[Role.AUDITOR])
    page = client.get(reverse(URL)).content.decode()
    assert "Never verified yet" in page
    seal_all()
    audit_check_run()
    page = client.get(reverse(URL)).content.decode()
    state = page.split('id="chain-state"')[1].split("</section>")[0]
    assert "Intact at" in state
    sealed = int(state.split('id="chain-sealed">')[1].split("<")[0])
    assert sealed >= 3
    assert state.split('id="chain-refused">')[1].startswith("0")
