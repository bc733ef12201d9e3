"""What contacts still needs of a person, and what it erases when the person is de-identified (people/retention.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet

from tracecenter.contacts.models import Exposure, ExposureStatus
from tracecenter.people import retention

STILL_FOLLOWED = [ExposureStatus.NEW, ExposureStatus.NOTIFIED, ExposureStatus.MONITORING]


def in_use(cutoff: dt.datetime) -> QuerySet[Any]:
    """Contacts still followed, in quarantine after the cutoff, or changed since."""
    return Exposure.objects.filter(
        Q(status__in=STILL_FOLLOWED) | Q(updated_at__gte=cutoff) | Q(quarantine_end__gte=cutoff.date())
    ).values("person_id")


def forget(person_ids: list[int]) -> None:
    Exposure.objects.filter(person_id__in=person_ids).update(notes="")


def register() -> None:
    from tracecenter.audit.selectors import register_person_records

    retention.register_user("contacts", in_use=in_use, forget=forget)
    register_person_records(
        "contact", lambda person_id: Exposure.objects.filter(person_id=person_id).values_list("pk", flat=True)
    )
