"""Domain events: the seams between apps.

A service publishes an event inside its transaction; the event is written to the
outbox table in that same transaction, so it cannot be lost when the process dies
right after the commit. After the commit it is handed to the subscribers (which are
registered by the higher apps in their AppConfig.ready, so lower apps never import
higher ones). A subscriber that fails leaves the event pending; `manage.py
dispatch_events` delivers pending events again, so subscribers must be idempotent.

Events carry ids and facts, never personal data.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar, TypeVar

from django.db import models, transaction

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class DomainEvent:
    name: ClassVar[str] = "DomainEvent"


@dataclasses.dataclass(frozen=True)
class LabResultReceived(DomainEvent):
    name: ClassVar[str] = "LabResultReceived"
    lab_result_id: int
    person_id: int
    jurisdiction_id: int
    classification: str


@dataclasses.dataclass(frozen=True)
class LabResultCorrected(DomainEvent):
    """A lab corrected (OBX-11 'C') or retracted (entered in error) a result already received."""

    name: ClassVar[str] = "LabResultCorrected"
    lab_result_id: int
    person_id: int
    jurisdiction_id: int
    previous: str  # the classification before
    classification: str  # after; "retracted" when the result was entered in error


@dataclasses.dataclass(frozen=True)
class PersonsMerged(DomainEvent):
    """Two records of one person were merged: everything of `merged_id` now belongs to `survivor_id`."""

    name: ClassVar[str] = "PersonsMerged"
    merge_id: int
    survivor_id: int
    merged_id: int


@dataclasses.dataclass(frozen=True)
class CaseOpened(DomainEvent):
    name: ClassVar[str] = "CaseOpened"
    case_id: int
    person_id: int
    jurisdiction_id: int


@dataclasses.dataclass(frozen=True)
class CaseStatusChanged(DomainEvent):
    name: ClassVar[str] = "CaseStatusChanged"
    case_id: int
    from_status: str
    to_status: str


@dataclasses.dataclass(frozen=True)
class InterviewCompleted(DomainEvent):
    name: ClassVar[str] = "InterviewCompleted"
    case_id: int
    contacts_elicited: int


@dataclasses.dataclass(frozen=True)
class ContactElicited(DomainEvent):
    name: ClassVar[str] = "ContactElicited"
    exposure_id: int
    case_id: int | None
    person_id: int


@dataclasses.dataclass(frozen=True)
class ContactBecameCase(DomainEvent):
    name: ClassVar[str] = "ContactBecameCase"
    exposure_id: int
    case_id: int


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.name: cls
    for cls in (
        LabResultReceived,
        LabResultCorrected,
        PersonsMerged,
        CaseOpened,
        CaseStatusChanged,
        InterviewCompleted,
        ContactElicited,
        ContactBecameCase,
    )
}

E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]
Filter = Callable[[Any], bool]
_subscribers: dict[str, list[Handler]] = defaultdict(list)
# A subscriber may say which events it acts on, so a feed's hundred thousand negative
# results are marked delivered without a transaction each.
_filters: dict[Handler, Filter] = {}
# Set while deliver_batch runs handlers: events they publish are collected for it instead of
# being delivered one transaction each after commit.
_collecting: ContextVar[list[int] | None] = ContextVar("tracecenter_events_collecting", default=None)


def subscribe[E: DomainEvent](
    event_type: type[E], handler: Callable[[E], None], *, when: Callable[[E], bool] | None = None
) -> None:
    if handler not in _subscribers[event_type.name]:
        _subscribers[event_type.name].append(handler)
    if when is not None:
        _filters[handler] = when


def _handlers_for(name: str, event: DomainEvent) -> list[Handler]:
    return [h for h in _subscribers.get(name, []) if h not in _filters or _filters[h](event)]


def _to_payload(event: DomainEvent) -> dict[str, Any]:
    payload = dataclasses.asdict(event)
    return {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in payload.items()}


def publish(event: DomainEvent) -> None:
    """Record `event` in the outbox; deliver it to subscribers once the transaction commits."""
    from tracecenter.core.models import OutboxEvent

    row = OutboxEvent.objects.create(name=event.name, payload=_to_payload(event))
    collected = _collecting.get()
    if collected is not None:
        collected.append(row.pk)  # published by a handler inside deliver_batch: it delivers this one too
        return
    transaction.on_commit(lambda: deliver(row.pk), robust=True)


def publish_many(batch: list[DomainEvent]) -> list[int]:
    """Record many events at once and leave delivery to the caller (deliver_batch) or the dispatcher.

    For bulk intake: one INSERT for a whole chunk, and delivery batched after commit.
    """
    from tracecenter.core.bulk import insert_rows
    from tracecenter.core.models import OutboxEvent

    rows = [OutboxEvent(name=e.name, payload=_to_payload(e)) for e in batch]
    insert_rows(OutboxEvent, rows)
    return [row.pk for row in rows]


def deliver(outbox_id: int) -> bool:
    """Deliver one outbox event to its subscribers; True when all of them succeeded."""
    from tracecenter.core import clock
    from tracecenter.core.models import OutboxEvent

    with transaction.atomic():
        row = OutboxEvent.objects.select_for_update().filter(pk=outbox_id, dispatched_at__isnull=True).first()
        if row is None:
            return True  # already delivered by another process
        event = EVENT_TYPES[row.name](**row.payload)
        try:
            with transaction.atomic():
                for handler in _handlers_for(row.name, event):
                    handler(event)
        except Exception as exc:  # a failing subscriber must not lose the event
            logger.exception("event %s #%s failed", row.name, row.pk)
            row.attempts += 1
            row.last_error = type(exc).__name__
            row.save(update_fields=["attempts", "last_error"])
            return False
        row.attempts += 1
        row.dispatched_at = clock.now()
        row.save(update_fields=["attempts", "dispatched_at"])
        return True


def deliver_batch(outbox_ids: list[int], published: list[int] | None = None) -> tuple[int, int]:
    """Deliver many events, 500 to a transaction; returns (delivered, failed).

    Each event's handlers run in a savepoint of their own, so one failing subscriber
    leaves that event pending (to be retried) without undoing the others. Events no
    handler acts on are only marked delivered. Events the handlers publish (a positive
    result opens a case: CaseOpened) are delivered by the same loop once their batch
    commits, rather than one transaction each; their ids are added to `published`.
    """
    from tracecenter.core import clock

    delivered = failed = 0
    queue = list(outbox_ids)
    while queue:
        ids, queue = queue[:500], queue[500:]
        collected: list[int] = []
        token = _collecting.set(collected)
        try:
            done_here, failed_here = _deliver_rows(ids, clock.now)
        finally:
            _collecting.reset(token)
        delivered, failed = delivered + done_here, failed + failed_here
        queue.extend(collected)  # committed with their batch: deliver them next
        if published is not None:
            published.extend(collected)
    return delivered, failed


def _deliver_rows(ids: list[int], now: Callable[[], Any]) -> tuple[int, int]:
    from tracecenter.core.models import OutboxEvent

    delivered = failed = 0
    if ids:
        with transaction.atomic():
            rows = list(
                OutboxEvent.objects.select_for_update(skip_locked=True)
                .filter(pk__in=ids, dispatched_at__isnull=True)
                .order_by("pk")
            )
            done: list[int] = []
            for row in rows:
                event = EVENT_TYPES[row.name](**row.payload)
                handlers = _handlers_for(row.name, event)
                try:
                    if handlers:
                        with transaction.atomic():
                            for handler in handlers:
                                handler(event)
                except Exception as exc:  # a failing subscriber must not lose the event
                    logger.exception("event %s #%s failed", row.name, row.pk)
                    OutboxEvent.objects.filter(pk=row.pk).update(attempts=row.attempts + 1, last_error=type(exc).__name__)
                    failed += 1
                    continue
                done.append(row.pk)
            if done:
                OutboxEvent.objects.filter(pk__in=done).update(dispatched_at=now(), attempts=models.F("attempts") + 1)
            delivered += len(done)
    return delivered, failed


def deliver_pending(limit: int = 1000) -> tuple[int, int]:
    """Deliver events left pending (a crash, a failed subscriber); returns (delivered, failed)."""
    from tracecenter.core.models import OutboxEvent

    ids = list(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("pk").values_list("pk", flat=True)[:limit])
    return deliver_batch(ids)


def deliver_all_pending() -> tuple[int, int]:
    """Deliver every pending event, batch after batch; an event that fails stays pending (returns delivered, failed)."""
    from tracecenter.core.models import OutboxEvent

    delivered = failed = 0
    last = 0
    while True:
        ids = list(
            OutboxEvent.objects.filter(dispatched_at__isnull=True, pk__gt=last).order_by("pk").values_list("pk", flat=True)[:5000]
        )
        if not ids:
            return delivered, failed
        done, bad = deliver_batch(ids)
        delivered, failed, last = delivered + done, failed + bad, ids[-1]
