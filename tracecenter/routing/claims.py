"""Routing in the database: the engine decides, each offer is claimed, and tracers answer.

Any number of web and worker processes may route at once. The engine works on a snapshot; each of its
offers is then claimed in its own short transaction that re-checks, under row locks, what the snapshot
may have got wrong in the meantime:

- the item is locked with SKIP LOCKED and must still be waiting (another process that claimed it
  first wins; this one moves on), and the database refuses a second pending offer of one item;
- the agent's row is locked (so two processes never both fill an agent's last place), the agent must
  still be in a routable state, and the work they hold or are offered on the channel is counted again
  against their capacity;
- an offer has a deadline: a process that dies after offering leaves nothing stuck, the offer times out
  (`offers_expire`) and the item waits again.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils.translation import gettext as _

from tracecenter.accounts.models import Jurisdiction, Proficiency, User, UserLanguage
from tracecenter.accounts.roles import ASSIGNABLE_ROLES
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, events
from tracecenter.core.errors import DomainError
from tracecenter.routing import engine, pushes
from tracecenter.routing.events import AgentStateChanged, OfferAnswered, OfferMade
from tracecenter.routing.models import (
    AgentStateChoice,
    AgentStatus,
    Offer,
    OfferStatus,
    WorkItem,
    WorkStatus,
)
from tracecenter.routing.queues import RESERVATION_SECONDS, language_requirement, queue_set
from tracecenter.routing.reasons import clean_reason

LEVEL: dict[str, int] = {Proficiency.NATIVE: 5, Proficiency.FLUENT: 4, Proficiency.CONVERSATIONAL: 3}
ROUTABLE_STATES = {AgentStateChoice.AVAILABLE, AgentStateChoice.BUSY}
MAX_ITEMS_PER_PASS = 5000  # the most urgent first; the rest wait for the next pass


def _ts(moment: dt.datetime) -> float:
    return moment.timestamp()


def _held(user_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Per agent and channel: work accepted and offers pending, what counts against capacity."""
    load: dict[int, dict[str, int]] = defaultdict(dict)
    ids = list(user_ids)
    accepted = (
        WorkItem.objects.filter(holder_id__in=ids, status=WorkStatus.ACCEPTED)
        .values_list("holder_id", "channel")
        .annotate(n=Count("id"))
    )
    offered = (
        Offer.objects.filter(agent_id__in=ids, status=OfferStatus.PENDING)
        .values_list("agent_id", "item__channel")
        .annotate(n=Count("id"))
    )
    for rows in (accepted, offered):
        for agent_id, channel, n in rows:
            load[agent_id][channel] = load[agent_id].get(channel, 0) + n
    return load


def agents_of(state: Jurisdiction) -> list[engine.Agent]:
    """The engine's view of the tracers of one state who are signed in to routing (have a status)."""
    statuses = list(
        AgentStatus.objects.select_related("user__jurisdiction").filter(
            user__is_active=True,
            user__role__in=ASSIGNABLE_ROLES,
            user__jurisdiction__path__startswith=state.path,
            state__in=ROUTABLE_STATES,
        )
    )
    ids = [s.user_id for s in statuses]
    languages: dict[int, dict[str, int]] = defaultdict(dict)
    for user_id, code, proficiency in UserLanguage.objects.filter(user_id__in=ids).values_list(
        "user_id", "language", "proficiency"
    ):
        languages[user_id][code] = LEVEL.get(proficiency, 3)
    skills: dict[int, list[str]] = defaultdict(list)
    for user_id, code in User.skills.through.objects.filter(user_id__in=ids).values_list("user_id", "skill__code"):
        skills[user_id].append(code)
    load = _held(ids)
    agents = []
    for status in statuses:
        user = status.user
        agents.append(
            engine.Agent(
                id=user.pk,
                attributes={
                    "role": user.role,
                    "jurisdiction": user.jurisdiction.path if user.jurisdiction else "",
                    "team": user.team_id,
                    "languages": languages.get(user.pk, {}),
                    "skills": sorted(skills.get(user.pk, [])),
                },
                state=engine.AgentState(status.state),
                idle_since=_ts(status.idle_since),
                capacity={channel: status.capacity_for(channel) for channel in ("voice", "sms", "email", "chat")},
                load=load.get(user.pk, {}),
            )
        )
    return agents


def engine_item(item: WorkItem) -> engine.Item:
    return engine.Item(
        id=item.pk,
        queue=item.kind,
        channel=item.channel,
        priority=float(item.priority),
        queued_at=_ts(item.queued_at),
        attributes={
            "jurisdiction": item.jurisdiction.path,
            "team": item.team_id,
            "language": item.language,
            "kind": item.kind,
        },
        requirements=language_requirement(item.kind, item.language),
        owner=item.owner_id,
        excluded=frozenset(int(x) for x in item.excluded),
    )


def _due(now: dt.datetime) -> Q:
    """Waiting work that may be offered now: not held back for a retry or a callback."""
    return Q(not_before__isnull=True) | Q(not_before__lte=now)


def callable_now(item: WorkItem, now: dt.datetime) -> bool:
    """Inside the person's calling window; a callback the person asked for is kept at the time they gave."""
    from tracecenter.routing.attempts import window_of

    return item.callback or window_of(item).contains(now)


def waiting_in(state: Jurisdiction, now: dt.datetime) -> list[WorkItem]:
    """The most urgent work of a state that may be offered now (the rest waits for a later pass)."""
    waiting = (
        WorkItem.objects.select_related("jurisdiction")
        .filter(_due(now), status=WorkStatus.QUEUED, jurisdiction__path__startswith=state.path)
        .order_by("-priority", "queued_at")[:MAX_ITEMS_PER_PASS]
    )
    return [item for item in waiting if callable_now(item, now)]


def _decide(state: Jurisdiction, agents: list[engine.Agent], now: dt.datetime) -> list[Offer]:
    waiting = waiting_in(state, now)
    made: list[Offer] = []
    if not waiting:
        return made
    queues = queue_set(state)  # the state's own configuration (routing/queues.py), read once per pass
    router = engine.Router(queues.queues, agents, reservation_seconds=RESERVATION_SECONDS)
    kinds = {item.pk: item.kind for item in waiting}
    for decided in router.assign([engine_item(i) for i in waiting], _ts(now)):
        seconds = queues.offer_seconds.get(kinds[decided.item], RESERVATION_SECONDS)
        offer = claim(item_id=decided.item, agent_id=decided.agent, step=decided.step, now=now, offer_seconds=seconds)
        if offer is not None:
            made.append(offer)
    return made


def route(*, now: dt.datetime | None = None) -> list[Offer]:
    """One routing pass over every state with work waiting; returns the offers claimed."""
    now = now or clock.now()
    made: list[Offer] = []
    if not AgentStatus.objects.filter(state__in=ROUTABLE_STATES).exists():
        return made  # nobody on anywhere (at night, in a surge before the shift): one indexed look, nothing else
    for state in Jurisdiction.objects.filter(parent__isnull=True):
        # Who could take work first (few rows, and often none at night): no one on, nothing to read.
        agents = agents_of(state)
        if agents:
            made += _decide(state, agents, now)
    return made


def _state_of(user: User) -> Jurisdiction | None:
    if user.jurisdiction is None:
        return None
    root = user.jurisdiction.ancestors_and_self()[0]
    return Jurisdiction.objects.filter(pk=root).first()


def work_next(*, actor: User) -> WorkItem | None:
    """Pull: the tracer asks for their next task and takes it at once (the item the rules make theirs);
    None when nothing waiting is for them. They are made available first if they were not."""
    if WorkItem.objects.filter(holder=actor, status=WorkStatus.ACCEPTED).exists():
        raise DomainError(_("Record how the work you hold went before you take more."))
    status = AgentStatus.objects.filter(user=actor).first()
    if status is None or status.state not in ROUTABLE_STATES:
        agent_set_state(actor=actor, agent=actor, state=AgentStateChoice.AVAILABLE)
    state = _state_of(actor)
    if state is None:
        return None
    now = clock.now()
    agents = [agent for agent in agents_of(state) if agent.id == actor.pk]
    pending = Offer.objects.filter(agent=actor, status=OfferStatus.PENDING, expires_at__gt=now).order_by("offered_at").first()
    if pending is None and agents:
        made = _decide(state, agents, now)
        pending = made[0] if made else None
    return offer_accept(actor=actor, offer_id=pending.pk) if pending is not None else None


def claim(*, item_id: int, agent_id: int, step: int, now: dt.datetime, offer_seconds: int = RESERVATION_SECONDS) -> Offer | None:
    """Reserve `item_id` for `agent_id` if both still allow it; None when another process got there first."""
    try:
        with transaction.atomic():
            item = (
                WorkItem.objects.select_for_update(skip_locked=True)
                .filter(_due(now), pk=item_id, status=WorkStatus.QUEUED)
                .first()
            )
            if item is None or agent_id in item.excluded:
                return None
            status = AgentStatus.objects.select_for_update().filter(user_id=agent_id).first()
            if status is None or status.state not in ROUTABLE_STATES:
                return None
            if _held([agent_id]).get(agent_id, {}).get(item.channel, 0) >= status.capacity_for(item.channel):
                return None
            offer = Offer.objects.create(
                item=item,
                agent_id=agent_id,
                step=step,
                offered_at=now,
                expires_at=now + dt.timedelta(seconds=offer_seconds),
            )
            item.status = WorkStatus.OFFERED
            item.save(update_fields=["status"])
            status.idle_since = now
            status.save(update_fields=["idle_since"])
            _audit_work(None, item, f"offered to user {agent_id}")
            events.publish(OfferMade(offer_id=offer.pk, item_id=item.pk, agent_id=agent_id, expires_at=offer.expires_at))
            pushes.offer_changed(agent_id=agent_id, offer_id=offer.pk, item_id=item.pk, status=offer.status)
            return offer
    except IntegrityError:
        return None  # a pending offer of this item exists already (the database's guard)


def _audit_work(actor: User | None, item: WorkItem, detail: str) -> None:
    """An offer made, answered or timed out: one entry on the work item, ids only."""
    audit_record(
        actor=actor,
        action=Action.ASSIGN,
        object_type="work_item",
        object_id=item.pk,
        jurisdiction_id=item.jurisdiction_id,
        detail=detail,
    )


def _pending(actor: User, offer_id: int, now: dt.datetime) -> Offer:
    offer = Offer.objects.select_for_update().select_related("item").filter(pk=offer_id, agent=actor).first()
    if offer is None:
        raise DomainError(_("This offer is not yours."))
    if offer.status != OfferStatus.PENDING or offer.expires_at <= now:
        raise DomainError(_("This offer has ended: it timed out or was withdrawn."))
    return offer


def _answer(offer: Offer, status: str, now: dt.datetime, reason: str = "") -> None:
    offer.status, offer.answered_at, offer.reason = status, now, reason
    offer.save(update_fields=["status", "answered_at", "reason"])
    events.publish(OfferAnswered(offer_id=offer.pk, item_id=offer.item_id, agent_id=offer.agent_id, status=status))
    pushes.offer_changed(agent_id=offer.agent_id, offer_id=offer.pk, item_id=offer.item_id, status=status)


@transaction.atomic
def offer_accept(*, actor: User, offer_id: int) -> WorkItem:
    """The tracer takes the work: they hold it (and see its record) until it ends."""
    now = clock.now()
    offer = _pending(actor, offer_id, now)
    item = offer.item
    _answer(offer, OfferStatus.ACCEPTED, now)
    item.status, item.holder, item.accepted_at = WorkStatus.ACCEPTED, actor, now
    item.save(update_fields=["status", "holder", "accepted_at"])
    _take_record(actor, item)
    if AgentStatus.objects.filter(user=actor, state=AgentStateChoice.AVAILABLE).update(state=AgentStateChoice.BUSY, since=now):
        events.publish(AgentStateChanged(agent_id=actor.pk, jurisdiction_id=actor.jurisdiction_id, state=AgentStateChoice.BUSY))
    _audit_work(actor, item, "accepted")
    return item


def _take_record(actor: User, item: WorkItem) -> None:
    """A record nobody owns yet becomes the accepting tracer's: its callbacks and retries come back to them."""
    from tracecenter.cases.models import Case
    from tracecenter.cases.services import case_take_routed
    from tracecenter.contacts.models import Exposure
    from tracecenter.contacts.services import exposure_take_routed

    if item.exposure_id is not None:
        exposure = Exposure.objects.select_for_update().select_related("jurisdiction").get(pk=item.exposure_id)
        exposure_take_routed(actor=actor, exposure=exposure)
    elif item.case_id is not None:
        case = Case.objects.select_for_update().select_related("jurisdiction").get(pk=item.case_id)
        case_take_routed(actor=actor, case=case)


@transaction.atomic
def offer_reject(*, actor: User, offer_id: int, reason: str) -> WorkItem:
    """The tracer declines, saying why: the item waits again and is never offered to them again."""
    reason = clean_reason(reason, required=_("Say why you decline this work."))
    now = clock.now()
    offer = _pending(actor, offer_id, now)
    _answer(offer, OfferStatus.REJECTED, now, reason)
    item = _requeue(offer.item, actor.pk)
    _audit_work(actor, item, "rejected")
    return item


def _requeue(item: WorkItem, agent_id: int) -> WorkItem:
    item.status = WorkStatus.QUEUED
    item.excluded = sorted({*item.excluded, agent_id})
    item.save(update_fields=["status", "excluded"])
    return item


def offers_expire(*, now: dt.datetime | None = None) -> int:
    """Offers past their deadline time out: the item waits again without that tracer, who is set not ready."""
    now = now or clock.now()
    expired = 0
    for offer_id in Offer.objects.filter(status=OfferStatus.PENDING, expires_at__lte=now).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            offer = (
                Offer.objects.select_for_update(skip_locked=True)
                .select_related("item")
                .filter(pk=offer_id, status=OfferStatus.PENDING)
                .first()
            )
            if offer is None:
                continue
            _answer(offer, OfferStatus.TIMED_OUT, now, "no answer in time")
            _requeue(offer.item, offer.agent_id)
            # Someone who lets an offer run out is probably away from the screen: no more offers until they say so.
            AgentStatus.objects.filter(user_id=offer.agent_id).update(
                state=AgentStateChoice.OFFLINE, reason="missed an offer", since=now
            )
            jurisdiction_id = User.objects.filter(pk=offer.agent_id).values_list("jurisdiction_id", flat=True).first()
            events.publish(
                AgentStateChanged(agent_id=offer.agent_id, jurisdiction_id=jurisdiction_id, state=AgentStateChoice.OFFLINE)
            )
            _audit_work(None, offer.item, f"offer to user {offer.agent_id} timed out")
            expired += 1
    return expired


def agent_set_state(*, actor: User, agent: User, state: str, reason: str = "") -> AgentStatus:
    """A tracer changes their own state (or a supervisor forces it, with a reason): audited."""
    from tracecenter.accounts import policy

    if state not in AgentStateChoice.values:
        raise DomainError(_("Choose one of the listed values."), field="state")
    if agent.pk != actor.pk:
        if not (policy.may_assign_in(actor, agent.jurisdiction) if agent.jurisdiction else False):
            audit_record(
                actor=actor,
                action=Action.DENIED,
                object_type="agent_status",
                object_id=agent.pk,
                jurisdiction_id=agent.jurisdiction_id,
                detail=state,
            )
            raise DomainError(_("You may not change this person's state."))
        reason = clean_reason(reason, required=_("Say why you change someone else's state."))
    elif reason.strip():
        reason = clean_reason(reason, required="")
    now = clock.now()
    status, _created = AgentStatus.objects.get_or_create(user=agent, defaults={"since": now, "idle_since": now})
    status.state, status.reason, status.since = state, reason.strip(), now
    if state == AgentStateChoice.AVAILABLE:
        status.idle_since = now
    status.save()
    events.publish(AgentStateChanged(agent_id=agent.pk, jurisdiction_id=agent.jurisdiction_id, state=state))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="agent_status",
        object_id=agent.pk,
        jurisdiction_id=agent.jurisdiction_id,
        fields=["state"],
        detail=state,
    )
    return status
