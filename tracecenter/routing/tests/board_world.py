"""Building a board's state in a few statements: bare cases, work items of any status and age, offers, tracers' states.

Work items are made here directly rather than through a case's flow, so that a test states each item's status,
age and channel; the flow that makes them is tested in test_routing_flow.py.
"""

from __future__ import annotations

import datetime as dt

from tracecenter.accounts.models import Jurisdiction, Team, User
from tracecenter.cases.models import Case
from tracecenter.core import clock
from tracecenter.people.models import Person
from tracecenter.routing.models import AgentStateChoice, AgentStatus, Channel, Offer, OfferStatus, WorkItem, WorkKind, WorkStatus

MINUTE = dt.timedelta(minutes=1)


def bare_cases(n: int, jurisdiction: Jurisdiction, person: Person, team: Team | None = None) -> list[Case]:
    """Cases without their flow (no work of their own): subjects for the work items a test makes."""
    return Case.objects.bulk_create([Case(person=person, jurisdiction=jurisdiction, team=team) for _ in range(n)])


def work(
    case: Case,
    *,
    kind: str = WorkKind.CASE_INTERVIEW,
    status: str = WorkStatus.QUEUED,
    channel: str = Channel.VOICE,
    priority: int = 30,
    created_ago: dt.timedelta = 5 * MINUTE,
    queued_ago: dt.timedelta | None = None,
    closed_ago: dt.timedelta | None = None,
    language: str = "",
    holder: User | None = None,
    due_in: dt.timedelta | None = dt.timedelta(hours=24),
    excluded: list[int] | None = None,
    not_before: dt.datetime | None = None,
) -> WorkItem:
    now = clock.now()
    item = WorkItem.objects.create(
        kind=kind,
        case=case,
        jurisdiction_id=case.jurisdiction_id,
        team_id=case.team_id,
        channel=channel,
        language=language,
        priority=priority,
        due_at=now + due_in if due_in is not None else None,
        queued_at=now - (queued_ago if queued_ago is not None else created_ago),
        status=status,
        holder=holder,
        excluded=excluded or [],
        not_before=not_before,
        closed_at=now - closed_ago if closed_ago is not None else None,
    )
    WorkItem.objects.filter(pk=item.pk).update(created_at=now - created_ago)  # auto_now_add: set apart
    item.refresh_from_db()
    return item


def offer(
    item: WorkItem,
    agent: User,
    *,
    offered_ago: dt.timedelta,
    status: str = OfferStatus.PENDING,
    answered_ago: dt.timedelta | None = None,
) -> Offer:
    now = clock.now()
    return Offer.objects.create(
        item=item,
        agent=agent,
        status=status,
        offered_at=now - offered_ago,
        expires_at=now - offered_ago + dt.timedelta(seconds=45),
        answered_at=now - answered_ago if answered_ago is not None else None,
    )


def on_shift(
    user: User, state: str = AgentStateChoice.AVAILABLE, *, since_ago: dt.timedelta = MINUTE, reason: str = ""
) -> AgentStatus:
    now = clock.now()
    status, _created = AgentStatus.objects.update_or_create(
        user=user, defaults={"state": state, "since": now - since_ago, "idle_since": now - since_ago, "reason": reason}
    )
    return status
