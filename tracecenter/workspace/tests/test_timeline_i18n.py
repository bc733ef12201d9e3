"""The case timeline in the reader's language: lines are worded when shown, from a code and its facts."""

from __future__ import annotations

import re

from django.urls import reverse

from tracecenter.accounts.roles import Role
from tracecenter.cases.models import CaseActivity
from tracecenter.cases.services import case_assign, case_change_status
from tracecenter.core import clock


def _timeline(client, case) -> str:
    page = client.get(reverse("workspace:case_detail", args=[case.pk])).content.decode()
    found = re.search(r'<ol class="timeline">(.*?)</ol>', page, re.S)
    assert found is not None
    return found.group(1)


def test_the_same_timeline_reads_in_english_and_in_spanish(client, users, make_case, county):
    tracer = users[Role.CONTACT_TRACER]
    case = make_case(county, owner=tracer)
    lab_id = case.lab_results.get().pk
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=tracer)
    case_change_status(actor=tracer, case=case, to_status="attempting", reason="first call")
    client.force_login(tracer)

    english = _timeline(client, case)
    assert f"Case opened: Opened from lab result {lab_id}" in english
    assert "Status changed: New → Assigned" in english
    assert "Status changed: Assigned → Attempting contact" in english
    assert f"Assigned: {tracer.display_name}" in english

    client.cookies["django_language"] = "es"
    spanish = _timeline(client, case)
    assert f"Caso abierto: Abierto a partir del resultado de laboratorio {lab_id}" in spanish
    assert "Cambio de estado: Asignado → Intentando contactar" in spanish
    assert "Opened from" not in spanish and "Attempting contact" not in spanish


def test_a_line_is_stored_as_a_code_and_its_facts_not_as_words(users, make_case, county):
    case = make_case(county)
    case_assign(actor=users[Role.SUPERVISOR], case=case, assignee=users[Role.CONTACT_TRACER])
    line = CaseActivity.objects.get(case=case, code="status")
    assert line.summary == '{"from":"new","to":"assigned"}'


def test_a_line_stored_as_text_before_still_shows(client, users, make_case, county):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    CaseActivity.objects.create(case=case, at=clock.now(), kind=CaseActivity.Kind.STATUS, summary="Assigned → Interviewed")
    client.force_login(users[Role.CONTACT_TRACER])
    assert "Status changed: Assigned → Interviewed" in _timeline(client, case)


def test_a_line_emptied_by_retention_shows_its_kind_alone(client, users, make_case, county):
    case = make_case(county, owner=users[Role.CONTACT_TRACER])
    CaseActivity.objects.filter(case=case).update(summary="")
    client.force_login(users[Role.CONTACT_TRACER])
    timeline = _timeline(client, case)
    assert "Case opened</li>" in timeline or "Case opened —" in timeline
    assert "{" not in timeline
