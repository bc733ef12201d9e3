"""Work items from the case's flow: a case opened needs an interview, a contact elicited needs a notification.

Never created by hand. Each creation is idempotent (an event delivered twice makes one item: the
database's constraint of one open item of a kind per record), and closing the record closes its open
work, withdrawing any offer of it.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record, audit_record_many
from tracecenter.cases.models import Case, CaseStatus
from tracecenter.contacts.models import Exposure, ExposureStatus, Relationship
from tracecenter.core import clock, events
from tracecenter.core.calling_windows import person_zone
from tracecenter.routing import pushes, surge
from tracecenter.routing.events import OfferAnswered, WorkItemCreated
from tracecenter.routing.models import (
    OPEN_WORK,
    Channel,
    Offer,
    OfferStatus,
    WorkItem,
    WorkKind,
    WorkStatus,
)

# How soon each kind is due: a case reached within a day of its result; its contacts within a day of being named.
DUE = {WorkKind.CASE_INTERVIEW: dt.timedelta(hours=24), WorkKind.CONTACT_NOTIFICATION: dt.timedelta(hours=24)}
CASE_STATUSES_DONE_WITH_INTERVIEW = {
    CaseStatus.INTERVIEWED,
    CaseStatus.UNREACHABLE,
    CaseStatus.REFUSED,
    CaseStatus.IN_ISOLATION,
    CaseStatus.RELEASED,
    CaseStatus.CLOSED,
}
EXPOSURE_STATUSES_DONE_WITH_NOTIFICATION = {
    ExposureStatus.NOTIFIED,
    ExposureStatus.MONITORING,
    ExposureStatus.UNREACHABLE,
    ExposureStatus.BECAME_CASE,
    ExposureStatus.RELEASED,
}


def routing_priority(case_priority: int) -> int:
    """A case's priority (1 most urgent .. 4) as routing's (higher first): ten points a level."""
    return (5 - max(1, min(4, case_priority))) * 10


def _announce(items: list[WorkItem]) -> None:
    audit_record_many(
        actor=None,
        action=Action.CREATE,
        object_type="work_item",
        items=[(item.pk, item.jurisdiction_id) for item in items],
        detail=", ".join(sorted({item.kind for item in items})),
    )
    events.publish_many([WorkItemCreated(item_id=i.pk, kind=i.kind, jurisdiction_id=i.jurisdiction_id) for i in items])


def _create(item: WorkItem) -> WorkItem | None:
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:
        return None  # already open for this record: the same event delivered again, or work still going on
    _announce([item])
    return item


def _create_many(items: list[WorkItem]) -> list[WorkItem]:
    """Many at once (a surge's cases): one INSERT. A conflict (an item already open) fails the batch, and the
    relay then delivers its events one by one, each meeting the database's constraint on its own."""
    if not items:
        return []
    WorkItem.objects.bulk_create(items)
    _announce(items)
    return items


# Only what work items need: loading the whole person would decrypt every identifying field for nothing.
_CASE_FIELDS = (
    "pk",
    "status",
    "jurisdiction_id",
    "team_id",
    "priority",
    "owner_id",
    "person__preferred_language",
    "person__state",
    "jurisdiction__time_zone",
    # What surge ordering reads (routing/surge.py).
    "symptom_onset",
    "asymptomatic",
    "specimen_collection_date",
    "congregate_setting",
)
_EXPOSURE_FIELDS = (
    "pk",
    "status",
    "jurisdiction_id",
    "team_id",
    "owner_id",
    "relationship",
    "setting",
    "last_exposure_date",
    "case__priority",
    "person__preferred_language",
    "person__state",
    "jurisdiction__time_zone",
)


def _interview_for(case: Case, now: dt.datetime, rules: surge.SurgeRules | None) -> WorkItem | None:
    if case.status in CASE_STATUSES_DONE_WITH_INTERVIEW:
        return None
    return WorkItem(
        kind=WorkKind.CASE_INTERVIEW,
        case=case,
        jurisdiction_id=case.jurisdiction_id,
        team_id=case.team_id,
        channel=Channel.VOICE,
        language=case.person.preferred_language or "",
        time_zone=person_zone(case.person.state, case.jurisdiction.time_zone),
        priority=surge.surge_priority(routing_priority(case.priority), surge.case_facts(case), rules, clock.today()),
        due_at=now + DUE[WorkKind.CASE_INTERVIEW],
        queued_at=now,
        owner_id=case.owner_id,
    )


def work_open_for_case(*, case_id: int) -> WorkItem | None:
    """The interview of a newly opened case, unless the case is already past it."""
    case = Case.objects.select_related("person", "jurisdiction").only(*_CASE_FIELDS).filter(pk=case_id).first()
    item = _interview_for(case, clock.now(), surge.rules_for(case.jurisdiction_id)) if case is not None else None
    return _create(item) if item is not None else None


def work_open_for_cases(*, case_ids: list[int]) -> list[WorkItem]:
    """The interviews of many newly opened cases (a surge), those without one open already."""
    now = clock.now()
    have = WorkItem.objects.filter(case_id__in=case_ids, kind=WorkKind.CASE_INTERVIEW, status__in=OPEN_WORK)
    cases = list(
        Case.objects.select_related("person", "jurisdiction")
        .only(*_CASE_FIELDS)
        .filter(pk__in=case_ids)
        .exclude(pk__in=have.values("case_id"))
        .order_by("pk")
    )
    rules = surge.rules_by_jurisdiction({case.jurisdiction_id for case in cases})  # two queries for the whole batch
    return _create_many(
        [item for case in cases if (item := _interview_for(case, now, rules.get(case.jurisdiction_id))) is not None]
    )


def work_open_for_exposure(*, exposure_id: int) -> WorkItem | None:
    """The notification of a newly elicited contact, unless already past it."""
    exposure = (
        Exposure.objects.select_related("person", "case", "jurisdiction").only(*_EXPOSURE_FIELDS).filter(pk=exposure_id).first()
    )
    if exposure is None or exposure.status in EXPOSURE_STATUSES_DONE_WITH_NOTIFICATION:
        return None
    now = clock.now()
    # Household contacts first (CDC's prioritisation when staff are short), then as urgent as their case.
    household = exposure.relationship in (Relationship.HOUSEHOLD_MEMBER, Relationship.PARTNER)
    base = routing_priority(exposure.case.priority) if exposure.case is not None else 10
    return _create(
        WorkItem(
            kind=WorkKind.CONTACT_NOTIFICATION,
            exposure=exposure,
            jurisdiction_id=exposure.jurisdiction_id,
            team_id=exposure.team_id,
            channel=Channel.VOICE,
            language=exposure.person.preferred_language or "",
            time_zone=person_zone(exposure.person.state, exposure.jurisdiction.time_zone),
            priority=surge.surge_priority(
                base + (5 if household else 0),
                surge.exposure_facts(exposure),
                surge.rules_for(exposure.jurisdiction_id),
                clock.today(),
            ),
            due_at=now + DUE[WorkKind.CONTACT_NOTIFICATION],
            queued_at=now,
            # Not sticky to the owner the contact inherited from its case: nobody has spoken to them yet, so the
            # next free tracer takes it. A supervisor's assignment (work_follow_owner) and a retry make it sticky.
            owner_id=None,
        )
    )


def _close(items: QuerySet[WorkItem], *, status: str, reason: str) -> int:
    now = clock.now()
    closed = 0
    with transaction.atomic():
        for item in items.select_for_update().filter(status__in=OPEN_WORK):
            for offer in Offer.objects.filter(item=item, status=OfferStatus.PENDING):
                offer.status, offer.answered_at, offer.reason = OfferStatus.WITHDRAWN, now, reason
                offer.save(update_fields=["status", "answered_at", "reason"])
                events.publish(OfferAnswered(offer_id=offer.pk, item_id=item.pk, agent_id=offer.agent_id, status=offer.status))
                pushes.offer_changed(agent_id=offer.agent_id, offer_id=offer.pk, item_id=item.pk, status=offer.status)
            held_by = item.holder_id if item.status == WorkStatus.ACCEPTED else None
            item.status, item.closed_at, item.close_reason = status, now, reason
            item.save(update_fields=["status", "closed_at", "close_reason"])
            if held_by is not None:
                # The record was closed under the tracer's hands: they are free again unless they hold more.
                from tracecenter.routing.attempts import agent_freed

                agent_freed(held_by, None, now)
                pushes.held_work_ended(holder_id=held_by, item_id=item.pk)
            audit_record(
                actor=None,
                action=Action.UPDATE,
                object_type="work_item",
                object_id=item.pk,
                jurisdiction_id=item.jurisdiction_id,
                fields=["status"],
                detail=reason,
            )
            closed += 1
    return closed


def work_close_for_case(*, case_id: int, status: str) -> int:
    """The case moved on (interviewed, unreachable, closed...): its interview work ends; closing it ends all."""
    items = WorkItem.objects.filter(case_id=case_id)
    if status == CaseStatus.CLOSED:
        return _close(items, status=WorkStatus.CANCELED, reason="case closed")
    if status in CASE_STATUSES_DONE_WITH_INTERVIEW:
        # Work a tracer holds ends with their wrap-up (the attempt's disposition), not under their hands.
        interview = items.filter(kind=WorkKind.CASE_INTERVIEW).exclude(status=WorkStatus.ACCEPTED)
        return _close(interview, status=WorkStatus.COMPLETED, reason=f"case {status}")
    return 0


def work_close_for_exposure(*, exposure_id: int, status: str) -> int:
    items = WorkItem.objects.filter(exposure_id=exposure_id)
    if status in (ExposureStatus.RELEASED, ExposureStatus.BECAME_CASE):
        return _close(items, status=WorkStatus.CANCELED, reason=f"contact {status}")
    if status in EXPOSURE_STATUSES_DONE_WITH_NOTIFICATION:
        notification = items.filter(kind=WorkKind.CONTACT_NOTIFICATION).exclude(status=WorkStatus.ACCEPTED)
        return _close(notification, status=WorkStatus.COMPLETED, reason=f"contact {status}")
    return 0


def work_follow_owner(*, case_id: int | None = None, exposure_id: int | None = None, owner_id: int | None) -> int:
    """The record's owner changed: its waiting work is now sticky to the new owner."""
    items = WorkItem.objects.filter(status=WorkStatus.QUEUED)
    if case_id is not None:
        items = items.filter(case_id=case_id, exposure__isnull=True)
    elif exposure_id is not None:
        items = items.filter(exposure_id=exposure_id)
    else:
        return 0
    return items.update(owner_id=owner_id)
