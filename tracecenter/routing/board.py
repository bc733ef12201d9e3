"""What a supervisor's board shows: the queues, the tracers and the waiting work of their reach, read in a few
grouped queries.

Who sees what is the access policy's: the work and the tracers of the watcher's jurisdiction and below, and for
a team's supervisor their team's plus what has no team yet (`policy.scope`, the same rule as the case lists and
the push groups). Every figure is aggregated in SQL, grouped by queue (the kind of work) and channel, so the
board reads the same handful of queries with a hundred waiting items or a hundred thousand; only the rows shown
on a page are read one by one.

Service level: of the items that came in today (the center's local day), the share offered to a tracer within
the target (`ROUTING_SERVICE_TARGET_MINUTES`, 60). An item still waiting inside its target, or closed inside it
without an offer, is not decided yet and counts neither way; one that waited past it without an offer counts as
missed, as an offer after it does.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    ExpressionWrapper,
    F,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from tracecenter.accounts import policy
from tracecenter.accounts.models import User, Viewer
from tracecenter.accounts.roles import ASSIGNABLE_ROLES, Capability, Scope
from tracecenter.core.env import env_int
from tracecenter.routing.models import (
    OPEN_WORK,
    AgentStateChoice,
    AgentStatus,
    Channel,
    Offer,
    OfferStatus,
    WorkItem,
    WorkKind,
    WorkStatus,
)

SERVICE_TARGET_MINUTES = env_int("ROUTING_SERVICE_TARGET_MINUTES", 60)
PAGE_SIZE = 50
# Today's answers to offers; one that timed out is noted by the next routing pass, seconds (at worst, while the
# workers are down, longer) after its deadline: counted when that is within this.
ANSWERED = (OfferStatus.ACCEPTED, OfferStatus.REJECTED, OfferStatus.TIMED_OUT)
ANSWER_LATE = dt.timedelta(hours=1)
# The order agents are listed in: those who can take work first, then those who are away.
STATE_ORDER = [state.value for state in AgentStateChoice]
_NOTHING = Q(pk__in=[])


# --- Who watches, and what they see.


def _watcher(viewer: Viewer | None) -> User | None:
    """`viewer` if they watch the queues: supervisors (who assign work) and epidemiologists (who read their whole
    jurisdiction)."""
    user = policy.signed_in(viewer)
    if user is None:
        return None
    if user.has_capability(Capability.ASSIGN):
        return user
    return user if user.has_capability(Capability.VIEW_RECORDS) and user.scope == Scope.JURISDICTION else None


def may_watch(viewer: Viewer | None) -> bool:
    return _watcher(viewer) is not None


def may_act(viewer: Viewer | None) -> bool:
    """Forcing a state, re-prioritising and moving work are assigning: the supervisor's, never the epidemiologist's."""
    return policy.has(viewer, Capability.ASSIGN)


# Nobody on the board "owns" a work item or a tracer: the reach is the jurisdiction (and the team) alone.


def work_in_reach(viewer: Viewer | None) -> QuerySet[WorkItem]:
    """The work items the board of `viewer` covers: the policy's scope over their jurisdiction and team."""
    user = _watcher(viewer)
    if user is None:
        return WorkItem.objects.none()
    return policy.scope(WorkItem.objects.all(), user, assigned=_NOTHING)


def offers_in_reach(viewer: Viewer | None) -> QuerySet[Offer]:
    user = _watcher(viewer)
    if user is None:
        return Offer.objects.none()
    return policy.scope(
        Offer.objects.all(), user, assigned=_NOTHING, team_field="item__team", jurisdiction_field="item__jurisdiction"
    )


def tracers_in_reach(viewer: Viewer | None) -> QuerySet[User]:
    """The people who take work whom `viewer` watches: of their jurisdiction, and their team (or none) for a team's
    supervisor."""
    user = _watcher(viewer)
    if user is None:
        return User.objects.none()
    return policy.scope(User.objects.filter(is_active=True, role__in=ASSIGNABLE_ROLES), user, assigned=_NOTHING)


def agents_in_reach(viewer: Viewer | None) -> QuerySet[AgentStatus]:
    user = _watcher(viewer)
    if user is None:
        return AgentStatus.objects.none()
    statuses = AgentStatus.objects.filter(user__is_active=True, user__role__in=ASSIGNABLE_ROLES)
    return policy.scope(statuses, user, assigned=_NOTHING, team_field="user__team", jurisdiction_field="user__jurisdiction")


# --- The queues.


@dataclasses.dataclass
class QueueRow:
    kind: str
    channel: str
    queued: int = 0  # waiting for a tracer now
    scheduled: int = 0  # waiting for its time: a retry or a callback later
    offered: int = 0
    in_progress: int = 0
    oldest_queued_at: dt.datetime | None = None
    oldest_age: dt.timedelta | None = None
    met: int = 0  # today's items offered within the target
    missed: int = 0  # today's items offered after it, or still waiting (or closed) past it without an offer
    accepted: int = 0  # today's answers
    rejected: int = 0
    timed_out: int = 0

    @property
    def kind_label(self) -> str:
        return str(WorkKind(self.kind).label) if self.kind in WorkKind.values else self.kind

    @property
    def channel_label(self) -> str:
        return str(Channel(self.channel).label) if self.channel in Channel.values else self.channel

    @property
    def decided(self) -> int:
        return self.met + self.missed

    @property
    def service_level(self) -> float | None:
        """The share met, from 0 to 1; None while no item of today is decided."""
        return self.met / self.decided if self.decided else None

    @property
    def service_level_percent(self) -> int | None:
        level = self.service_level
        return None if level is None else round(level * 100)


def due_now(now: dt.datetime) -> Q:
    """Work waiting for a tracer now: queued, and not held back for a retry or a callback (`not_before`)."""
    return Q(status=WorkStatus.QUEUED) & (Q(not_before__isnull=True) | Q(not_before__lte=now))


def day_start(now: dt.datetime) -> dt.datetime:
    """Midnight of `now`'s day in the center's time zone: "today" of the figures."""
    return timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)


def queue_rows(viewer: Viewer | None, *, now: dt.datetime, target_minutes: int = SERVICE_TARGET_MINUTES) -> list[QueueRow]:
    """Per queue and channel: the work open now, today's service level and today's answers.

    Two grouped queries, after a look-up of where today's work begins: one over the work items (open now, or come
    in today), one over the offers (answered today, or made within the target for today's work). The service level
    is counted from the offers' side, a join, rather than by a look-up of each item's offers: with a surge's
    100,000 items of today, a look-up each cost seconds on PostgreSQL (and its JIT compiling the plan, seconds more).
    """
    rows: dict[tuple[str, str], QueueRow] = {}

    def row(kind: str, channel: str) -> QueueRow:
        return rows.setdefault((kind, channel), QueueRow(kind=kind, channel=channel))

    for kind in WorkKind.values:  # every queue has a line, empty or not
        row(kind, Channel.VOICE)
    start, target = day_start(now), dt.timedelta(minutes=target_minutes)
    until = Value(now, output_field=DateTimeField())
    waiting = due_now(now)
    # Neither when work came in nor when an offer was answered has an index, and the tables keep every day's work:
    # the queries are bounded by indexes they have instead, so that they read today's rows, never the history.
    # Work items are numbered as they come in: today's are numbered after the last one of before midnight (found
    # from the newest backwards on the primary key). An offer answered today expired today, or shortly before
    # (one that timed out is answered by the next pass, seconds after its deadline).
    last_before = WorkItem.objects.filter(created_at__lt=start).order_by("-pk").values_list("pk", flat=True).first() or 0
    todays = Q(pk__gt=last_before, created_at__gte=start, created_at__lte=now)
    # Decided: its target has passed, by now or before it closed (closed earlier without an offer: not decided).
    decided = Q(created_at__gte=start, created_at__lte=F("latest"))
    for kind, channel, queued, scheduled, offered, in_progress, oldest, due in (
        work_in_reach(viewer)
        .filter(Q(status__in=OPEN_WORK) | todays)
        .annotate(latest=ExpressionWrapper(Coalesce(F("closed_at"), until) - target, output_field=DateTimeField()))
        .order_by()
        .values_list("kind", "channel")
        .annotate(
            queued=Count("pk", filter=waiting),
            scheduled=Count("pk", filter=Q(status=WorkStatus.QUEUED, not_before__gt=now)),
            offered=Count("pk", filter=Q(status=WorkStatus.OFFERED)),
            in_progress=Count("pk", filter=Q(status=WorkStatus.ACCEPTED)),
            oldest=Min("queued_at", filter=waiting),
            due=Count("pk", filter=decided),
        )
    ):
        line = row(kind, channel)
        line.queued, line.scheduled, line.offered, line.in_progress = queued, scheduled, offered, in_progress
        line.oldest_queued_at = oldest
        line.oldest_age = now - oldest if oldest is not None else None
        line.missed = due  # less those met, below
    answered = Q(answered_at__gte=start)
    in_time = Q(item__created_at__gte=start, item__created_at__lte=now, offered_at__lte=F("in_time"))
    answered_bound = Q(status__in=ANSWERED, expires_at__gte=start - ANSWER_LATE) & answered  # offer_pending_idx
    in_time_bound = Q(item_id__gt=last_before) & in_time  # the offers' index of their item
    for kind, channel, met, met_decided, accepted, rejected, timed_out in (
        offers_in_reach(viewer)
        .annotate(
            in_time=ExpressionWrapper(F("item__created_at") + target, output_field=DateTimeField()),
            latest=ExpressionWrapper(Coalesce(F("item__closed_at"), until) - target, output_field=DateTimeField()),
        )
        .filter(answered_bound | in_time_bound)
        .order_by()
        .values_list("item__kind", "item__channel")
        .annotate(
            met=Count("item", distinct=True, filter=in_time),
            met_decided=Count("item", distinct=True, filter=in_time & Q(item__created_at__lte=F("latest"))),
            accepted=Count("pk", filter=answered & Q(status=OfferStatus.ACCEPTED)),
            rejected=Count("pk", filter=answered & Q(status=OfferStatus.REJECTED)),
            timed_out=Count("pk", filter=answered & Q(status=OfferStatus.TIMED_OUT)),
        )
    ):
        line = row(kind, channel)
        line.met, line.missed = met, line.missed - met_decided
        line.accepted, line.rejected, line.timed_out = accepted, rejected, timed_out
    order = {kind: i for i, kind in enumerate(WorkKind.values)}
    channels = {channel: i for i, channel in enumerate(Channel.values)}
    return sorted(rows.values(), key=lambda r: (order.get(r.kind, 99), channels.get(r.channel, 99), r.kind, r.channel))


# --- The tracers.


@dataclasses.dataclass(frozen=True)
class AgentRow:
    user_id: int
    name: str
    role: str
    state: str
    reason: str
    since: dt.datetime
    in_state: dt.timedelta
    held: int  # work accepted and not finished
    offered: int  # offers waiting for their answer

    @property
    def state_label(self) -> str:
        return str(AgentStateChoice(self.state).label) if self.state in AgentStateChoice.values else self.state


def agents_by_state(viewer: Viewer | None) -> list[tuple[str, str, int]]:
    """(state, its label, how many tracers are in it), every state listed: one grouped query."""
    counts = dict(agents_in_reach(viewer).order_by().values_list("state").annotate(n=Count("pk")).values_list("state", "n"))
    return [(state, str(AgentStateChoice(state).label), counts.get(state, 0)) for state in STATE_ORDER]


def agent_page(
    viewer: Viewer | None, number: str | int | None, *, now: dt.datetime, state: str = "", size: int = PAGE_SIZE
) -> tuple[Page[AgentStatus], list[AgentRow]]:
    """One page of the tracers, grouped by state in the order a supervisor reads them (available first), the longest
    in their state first; with the work each holds and is offered (two grouped queries over the page's tracers)."""
    statuses = (
        agents_in_reach(viewer)
        .select_related("user")
        .only("state", "reason", "since", "user__username", "user__first_name", "user__last_name", "user__role")
    )
    if state:
        statuses = statuses.filter(state=state)
    rank = Case(*(When(state=state, then=Value(i)) for i, state in enumerate(STATE_ORDER)), default=Value(99))
    page = Paginator(statuses.order_by(rank, "since", "pk"), size).get_page(number)
    shown = list(page.object_list)
    ids = [s.user_id for s in shown]
    held: dict[int, int] = defaultdict(int)
    offered: dict[int, int] = defaultdict(int)
    for holder, n in (
        WorkItem.objects.filter(holder_id__in=ids, status=WorkStatus.ACCEPTED)
        .order_by()
        .values_list("holder")
        .annotate(n=Count("pk"))
    ):
        held[holder] = n
    for agent, n in (
        Offer.objects.filter(agent_id__in=ids, status=OfferStatus.PENDING).order_by().values_list("agent").annotate(n=Count("pk"))
    ):
        offered[agent] = n
    rows = [
        AgentRow(
            user_id=s.user_id,
            name=s.user.display_name,
            role=s.user.get_role_display(),
            state=s.state,
            reason=s.reason,
            since=s.since,
            in_state=max(now - s.since, dt.timedelta(0)),
            held=held[s.user_id],
            offered=offered[s.user_id],
        )
        for s in shown
    ]
    return page, rows


# --- The waiting work.


@dataclasses.dataclass(frozen=True)
class WaitingRow:
    item_id: int
    kind: str
    kind_label: str
    channel: str
    priority: int
    age: dt.timedelta
    due_at: dt.datetime | None
    overdue: bool
    language: str
    jurisdiction: str
    case_id: int | None
    contact_id: int | None


def waiting_page(
    viewer: Viewer | None, number: str | int | None, *, now: dt.datetime, kind: str = "", size: int = PAGE_SIZE
) -> tuple[Page[WorkItem], list[WaitingRow]]:
    """One page of the work waiting for a tracer now, in the order routing offers it: the most urgent, then the
    oldest (a retry or a callback counts from when it came due)."""
    items = (
        work_in_reach(viewer)
        .filter(due_now(now))
        .select_related("jurisdiction")
        .only("kind", "channel", "priority", "queued_at", "due_at", "language", "case_id", "exposure_id", "jurisdiction__name")
    )
    if kind:
        items = items.filter(kind=kind)
    page = Paginator(items.order_by("-priority", "queued_at", "pk"), size).get_page(number)
    labels = dict(WorkKind.choices)
    rows = [
        WaitingRow(
            item_id=item.pk,
            kind=item.kind,
            kind_label=str(labels.get(item.kind, item.kind)),
            channel=item.channel,
            priority=item.priority,
            age=max(now - item.queued_at, dt.timedelta(0)),
            due_at=item.due_at,
            overdue=item.due_at is not None and item.due_at <= now,
            language=item.language,
            jurisdiction=item.jurisdiction.name,
            # A contact's work names its contact (the exposure); a case's, the case.
            case_id=item.case_id if item.exposure_id is None else None,
            contact_id=item.exposure_id,
        )
        for item in page.object_list
    ]
    return page, rows
