"""What cases still needs of a person, and what it erases when the person is de-identified (people/retention.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from tracecenter.cases.models import OPEN_STATUSES, Case, CaseActivity, CaseStatusChange
from tracecenter.people import retention


def in_use(cutoff: dt.datetime) -> QuerySet[Any]:
    """Persons with an open case, or a case that changed since the cutoff."""
    return Case.objects.filter(Q(status__in=OPEN_STATUSES) | Q(updated_at__gte=cutoff)).values("person_id")


def forget(person_ids: list[int]) -> None:
    """The free text of their cases: interview notes, the reasons given, the lines of the timeline."""
    cases = Case.objects.filter(person_id__in=person_ids)
    cases.update(interview_notes="")
    CaseStatusChange.objects.filter(case__in=cases).update(reason="")
    CaseActivity.objects.filter(case__in=cases).update(summary="")


def register() -> None:
    from tracecenter.audit.selectors import register_person_records

    retention.register_user("cases", in_use=in_use, forget=forget)
    register_person_records("case", lambda person_id: Case.objects.filter(person_id=person_id).values_list("pk", flat=True))
