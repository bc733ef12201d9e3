"""The status selector offers the moves the case lifecycle allows from where the case is, and no other."""

from __future__ import annotations

import re

from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.cases import engine
from tracecenter.cases.models import CaseStatus
from tracecenter.cases.services import case_assign


def _offered(page: str) -> list[str]:
    select = re.search(r'<select name="status"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_an_assigned_case_is_not_offered_new(client, users, make_case, county):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.CONTACT_TRACER])
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    client.force_login(users[Role.CONTACT_TRACER])
    offered = _offered(client.get(reverse("workspace:case_detail", args=[case.pk])).content.decode())
    assert "new" not in offered and "assigned" not in offered
    assert offered == engine.next_statuses("assigned") == ["attempting", "interviewed", "unreachable", "refused", "closed"]


def test_a_posted_move_the_lifecycle_refuses_changes_nothing(client, users, make_case, county):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.CONTACT_TRACER])
    client.force_login(users[Role.CONTACT_TRACER])
    url = reverse("workspace:case_status", args=[case.pk])
    response = client.post(url, {"status": "new", "reason": "back to the queue"}, follow=True)
    case.refresh_from_db()
    assert case.status == CaseStatus.ASSIGNED
    assert "A case that is Assigned cannot go to that status: choose one the list offers" in response.content.decode()


def test_every_status_offers_exactly_its_lifecycle_moves():
    for status in engine.STATUSES:
        assert set(engine.next_statuses(status)) == engine.TRANSITIONS[status]
        assert status not in engine.next_statuses(status)
