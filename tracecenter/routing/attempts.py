"""The end of an attempt: the tracer wraps up the work they hold with its disposition, and routing
decides what follows.

- reached, or declined: the work is done;
- asked to be called back: the work comes back at the time the person gave, to its owner first;
- not reached (no answer, voicemail, busy, wrong number): the work comes back at the next time of
  the retry cadence (routing/cadence.py) inside the person's calling window, to its owner first;
  after `ROUTING_MAX_ATTEMPTS` such attempts in a row the record becomes unreachable, with that
  reason, and the work ends;
- needs another language: the work waits again at once, for someone else (the item's language
  requirement, set from the person's preferred language, does the rest).

Each attempt is kept (`Attempt`) and written to the record's own history (the case's timeline, the
contact's call log), so the person's record says how often and when they were tried.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.translation import gettext as _

from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.cases.models import Case
from tracecenter.cases.services import case_attempt_record
from tracecenter.contacts.models import Exposure
from tracecenter.contacts.services import exposure_attempt_record
from tracecenter.core import clock, events, tasks
from tracecenter.core.calling_windows import CallingWindow, zone_named
from tracecenter.core.env import env_int, env_str
from tracecenter.core.errors import DomainError
from tracecenter.core.outcomes import NOT_REACHED, CallOutcome
from tracecenter.routing import cadence
from tracecenter.routing.events import AgentStateChanged, WorkItemRequeued
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Attempt, WorkItem, WorkStatus

MAX_ATTEMPTS = env_int("ROUTING_MAX_ATTEMPTS", 5)
RETRY_CADENCE = cadence.parse(env_str("ROUTING_RETRY_HOURS", "2,3e,16,3e"))
EVENING_FROM = dt.time(env_int("ROUTING_EVENING_HOUR", 18))
BUSY_RETRY = dt.timedelta(minutes=15)  # a busy line means someone is there: soon, not in hours
CALLBACK_MAX = dt.timedelta(days=14)
DONE = frozenset({CallOutcome.REACHED, CallOutcome.DECLINED})


def window_of(item: WorkItem, jurisdiction: Jurisdiction | None = None) -> CallingWindow:
    """The calling window of the work's person: the jurisdiction's hours, in the person's local time."""
    where = jurisdiction or item.jurisdiction
    return CallingWindow(where.calling_from, where.calling_until, zone_named(item.time_zone or where.time_zone))


def _clean_callback(callback_at: dt.datetime | None, now: dt.datetime, *, required: bool) -> dt.datetime | None:
    if callback_at is None:
        if required:
            raise DomainError(_("Say when to call back."), field="callback_at")
        return None
    if callback_at <= now:
        raise DomainError(_("A callback is in the future."), field="callback_at")
    if callback_at > now + CALLBACK_MAX:
        raise DomainError(_("A callback is at most %(n)d days ahead.") % {"n": CALLBACK_MAX.days}, field="callback_at")
    return callback_at


def _record_attempt(actor: User, item: WorkItem, disposition: str, number: int, unreachable_after: int | None) -> bool:
    """The attempt in the record's own history; True when the record no longer needs this work."""
    from tracecenter.routing.work import CASE_STATUSES_DONE_WITH_INTERVIEW, EXPOSURE_STATUSES_DONE_WITH_NOTIFICATION

    if item.exposure_id is not None:
        exposure = Exposure.objects.select_for_update().get(pk=item.exposure_id)
        exposure_attempt_record(
            actor=actor, exposure=exposure, outcome=disposition, number=number, unreachable_after=unreachable_after
        )
        return exposure.status in EXPOSURE_STATUSES_DONE_WITH_NOTIFICATION
    case = Case.objects.select_for_update().get(pk=int(item.case_id or 0))
    case_attempt_record(actor=actor, case=case, outcome=disposition, number=number, unreachable_after=unreachable_after)
    return case.status in CASE_STATUSES_DONE_WITH_INTERVIEW


def _next_time(item: WorkItem, disposition: str, failures: int, now: dt.datetime, callback_at: dt.datetime | None) -> dt.datetime:
    if callback_at is not None:
        return callback_at  # the person's own time, or the tracer's choice: kept as given
    window = window_of(item)
    if disposition == CallOutcome.LANGUAGE_BARRIER:
        return window.next_open(now)
    if disposition == CallOutcome.BUSY:
        return window.next_open(now + BUSY_RETRY)
    return cadence.next_attempt(RETRY_CADENCE, failed=failures, last=now, window=window, evening_from=EVENING_FROM)


def work_wrap_up(*, actor: User, item_id: int, disposition: str, callback_at: dt.datetime | None = None) -> WorkItem:
    """End the attempt on the work `actor` holds with its disposition; the work is done or comes back later."""
    if disposition not in CallOutcome.values:
        raise DomainError(_("Choose one of the listed values."), field="disposition")
    now = clock.now()
    callback_at = _clean_callback(callback_at, now, required=disposition == CallOutcome.CALL_BACK)
    with transaction.atomic():
        item = (
            WorkItem.objects.select_for_update()
            .select_related("jurisdiction")
            .filter(pk=item_id, holder=actor, status=WorkStatus.ACCEPTED)
            .first()
        )
        if item is None:
            raise DomainError(_("This work is not yours to finish."))
        number = item.attempts + 1
        failures = item.failures + 1 if disposition in NOT_REACHED else 0
        gives_up = disposition in NOT_REACHED and failures >= MAX_ATTEMPTS
        record_done = _record_attempt(actor, item, disposition, number, failures if gives_up else None)
        finished = record_done or gives_up or disposition in DONE
        next_at = None if finished else _next_time(item, disposition, failures, now, callback_at)
        Attempt.objects.create(
            item=item,
            agent=actor,
            number=number,
            channel=item.channel,
            disposition=disposition,
            started_at=item.accepted_at or now,
            ended_at=now,
            next_at=next_at,
        )
        item.attempts, item.failures, item.disposition, item.holder = number, failures, disposition, None
        if next_at is None:
            item.status, item.closed_at = WorkStatus.COMPLETED, now
            item.close_reason = "not reached" if gives_up else ""
        else:
            item.status, item.not_before, item.queued_at = WorkStatus.QUEUED, next_at, next_at
            item.callback = disposition == CallOutcome.CALL_BACK
            # Back to the tracer who tried first: the person hears the same voice, and the tracer knows the story.
            item.owner_id = actor.pk
            if disposition == CallOutcome.LANGUAGE_BARRIER:
                item.excluded = sorted({*item.excluded, actor.pk})
        item.save()
        agent_freed(actor.pk, actor.jurisdiction_id, now)
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="work_item",
            object_id=item.pk,
            jurisdiction_id=item.jurisdiction_id,
            fields=["status"],
            detail=f"attempt {number} {disposition}" + (f", back at {next_at.isoformat()}" if next_at else ", done"),
        )
        if next_at is not None:
            events.publish(WorkItemRequeued(item_id=item.pk, jurisdiction_id=item.jurisdiction_id, not_before=next_at))
        return item


def agent_freed(agent_id: int, jurisdiction_id: int | None, now: dt.datetime) -> None:
    """A busy tracer who holds nothing more is available again, and is routed to at once."""
    if WorkItem.objects.filter(holder_id=agent_id, status=WorkStatus.ACCEPTED).exists():
        AgentStatus.objects.filter(user_id=agent_id, state=AgentStateChoice.BUSY).update(idle_since=now)
        return
    if AgentStatus.objects.filter(user_id=agent_id, state=AgentStateChoice.BUSY).update(
        state=AgentStateChoice.AVAILABLE, idle_since=now, since=now
    ):
        events.publish(AgentStateChanged(agent_id=agent_id, jurisdiction_id=jurisdiction_id, state=AgentStateChoice.AVAILABLE))


def route_at(moment: dt.datetime) -> None:
    """A routing pass at `moment` (a callback's or retry's time), in this transaction."""
    from tracecenter.routing.tasks import route_due

    tasks.enqueue(route_due.using(run_after=moment))
