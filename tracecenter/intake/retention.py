"""What intake keeps, and for how long (audit/retention.py decides when).

- Rejected raw messages (and originals replaced by a fix) are purged after their period:
  they were never anyone's record, only a file that could not be read.
- The reports of finished deliveries quote rejected values: their text is erased after the period.
- A de-identified person's lab results stay (they count); the raw messages they came from,
  which name the person, are emptied (people/retention.py asks).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet

from tracecenter.audit import retention
from tracecenter.audit.selectors import register_person_records
from tracecenter.intake.models import InboundMessage, IntakeBatch, LabResult
from tracecenter.people import retention as people_retention

UNREAD = [InboundMessage.State.REJECTED, InboundMessage.State.REPLACED]


def rejected_expired(jurisdiction_id: int, cutoff: dt.datetime) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.filter(jurisdiction_id=jurisdiction_id, state__in=UNREAD, received_at__lt=cutoff)


def rejected_purge(ids: list[int]) -> int:
    # A fix points at the message it replaced: the link goes, the fix (a message of its own) stays.
    InboundMessage.objects.filter(replaces_id__in=ids).update(replaces=None)
    return InboundMessage.objects.filter(pk__in=ids).delete()[0]


def reports_expired(jurisdiction_id: int, cutoff: dt.datetime) -> QuerySet[IntakeBatch]:
    return IntakeBatch.objects.filter(jurisdiction_id=jurisdiction_id, finished_at__lt=cutoff).exclude(report="")


def reports_erase(ids: list[int]) -> int:
    return IntakeBatch.objects.filter(pk__in=ids).update(report="")


def in_use(cutoff: dt.datetime) -> QuerySet[Any]:
    """Persons with a lab result received since the cutoff."""
    return LabResult.objects.filter(created_at__gte=cutoff).values("person_id")


def forget(person_ids: list[int]) -> None:
    InboundMessage.objects.filter(lab_results__person_id__in=person_ids).update(raw="", problems="", warnings="")


def register() -> None:
    retention.register(
        retention.RecordType(
            name="intake.rejected_message",
            label="Rejected raw lab messages (purged)",
            default_days=90,
            action=retention.PURGE,
            object_type="inbound_message",
            expired=rejected_expired,
            carry=rejected_purge,
        )
    )
    retention.register(
        retention.RecordType(
            name="intake.delivery_report",
            label="Reports of lab deliveries, which quote rejected values (erased)",
            default_days=90,
            action=retention.DEIDENTIFY,
            object_type="intake_batch",
            expired=reports_expired,
            carry=reports_erase,
        )
    )
    people_retention.register_user("intake", in_use=in_use, forget=forget)
    register_person_records(
        "lab_result", lambda person_id: LabResult.objects.filter(person_id=person_id).values_list("pk", flat=True)
    )
    register_person_records(
        "inbound_message",
        lambda person_id: InboundMessage.objects.filter(lab_results__person_id=person_id).values_list("pk", flat=True),
    )
