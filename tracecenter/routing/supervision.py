"""A supervisor's routing actions from the board: force a tracer's state, re-prioritise open work, move work to a
named tracer.

Each is the supervisor's act (the ASSIGN capability) inside their reach: the work and the tracers the board shows
them (`board.work_in_reach`, `board.tracers_in_reach`: the access policy's scope). Every change is audited with
ids only, every refusal of something outside the reach too; a refusal names the field at fault.

Moving work is a routing action like any other offer, not an assignment around routing: a pending offer of the
item is withdrawn, then the item is offered to the tracer through `claims.claim`, which re-checks under row locks
that the tracer is still routable and has room on the item's channel. The tracer answers it as any offer, within
the state's offer time for that kind of work. The checks made before (state, capacity, jurisdiction, language, an
earlier refusal; work held back for a retry or a callback, or outside the person's calling hours) are there to
say *why* it cannot be offered; the claim stays the judge.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User, UserLanguage
from tracecenter.audit.models import Action
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, events
from tracecenter.core.codes.language import language_name
from tracecenter.core.errors import DomainError
from tracecenter.routing import board, pushes
from tracecenter.routing.claims import LEVEL, ROUTABLE_STATES, agent_set_state, callable_now, claim
from tracecenter.routing.events import OfferAnswered
from tracecenter.routing.models import (
    OPEN_WORK,
    AgentStateChoice,
    AgentStatus,
    Channel,
    Offer,
    OfferStatus,
    WorkItem,
    WorkStatus,
)
from tracecenter.routing.queues import RESERVATION_SECONDS, language_requirement, specs_for
from tracecenter.routing.reasons import clean_reason

PRIORITY_MIN, PRIORITY_MAX = 0, 100
MOVED = "moved by a supervisor"  # the withdrawn offer's reason: a fixed phrase, never the supervisor's words


def _denied(actor: User, *, object_type: str, object_id: object, jurisdiction_id: int | None, detail: str) -> None:
    audit_record(
        actor=actor,
        action=Action.DENIED,
        object_type=object_type,
        object_id=object_id,
        jurisdiction_id=jurisdiction_id,
        detail=detail,
    )


def _require_supervisor(actor: User, *, object_type: str, object_id: object, detail: str) -> None:
    if not board.may_act(actor):
        _denied(actor, object_type=object_type, object_id=object_id, jurisdiction_id=actor.jurisdiction_id, detail=detail)
        raise DomainError(_("Only a supervisor may do this."))


def _item_in_reach(actor: User, item_id: int, *, detail: str) -> WorkItem:
    """The work item `item_id` if the board of `actor` shows it; else refused on the field `item` (and audited when
    it exists elsewhere), with the same words whether it exists or not, so that ids are not probed."""
    _require_supervisor(actor, object_type="work_item", object_id=item_id, detail=detail)
    if isinstance(item_id, int) and not isinstance(item_id, bool) and item_id > 0:
        item = board.work_in_reach(actor).select_related("jurisdiction").filter(pk=item_id).first()
        if item is not None:
            return item
        elsewhere = WorkItem.objects.filter(pk=item_id).values_list("jurisdiction_id", flat=True).first()
        if elsewhere is not None:  # a work item always has a jurisdiction: None means there is no such item
            _denied(actor, object_type="work_item", object_id=item_id, jurisdiction_id=elsewhere, detail=detail)
    raise DomainError(_("There is no work with this number among the work you supervise."), field="item")


def _tracer_in_reach(actor: User, agent_id: int, *, detail: str) -> User:
    """The tracer `agent_id` if the board of `actor` shows them; else refused on the field `agent` (audited when
    they exist outside the reach)."""
    if isinstance(agent_id, int) and not isinstance(agent_id, bool) and agent_id > 0:
        tracer = board.tracers_in_reach(actor).select_related("jurisdiction").filter(pk=agent_id).first()
        if tracer is not None:
            return tracer
        elsewhere = list(User.objects.filter(pk=agent_id).values_list("jurisdiction_id", flat=True))
        if elsewhere:
            _denied(actor, object_type="agent_status", object_id=agent_id, jurisdiction_id=elsewhere[0], detail=detail)
    raise DomainError(_("Choose a tracer from the list: only those you supervise."), field="agent")


def _refuse_closed(item: WorkItem) -> None:
    if item.status not in OPEN_WORK:
        raise DomainError(
            _("This work is closed (%(status)s): only open work can be changed.") % {"status": item.get_status_display()},
            field="item",
        )


# --- Forcing a tracer's state.


def agent_force_state(*, actor: User, agent_id: int, state: str, reason: str) -> AgentStatus:
    """A supervisor sets a tracer's state, saying why; the boards that show the tracer hear of it."""
    _require_supervisor(actor, object_type="agent_status", object_id=agent_id, detail=str(state)[:40])
    if state not in AgentStateChoice.values:
        raise DomainError(_("Choose one of the listed values."), field="state")
    agent = _tracer_in_reach(actor, agent_id, detail=state)
    reason = clean_reason(reason, required=_("Say why you change this tracer's state."))
    # The claim path's own service: it checks the supervisor's jurisdiction again, audits the change and announces
    # it (AgentStateChanged), which the boards showing the tracer hear of.
    return agent_set_state(actor=actor, agent=agent, state=state, reason=reason)


# --- Re-prioritising open work.


def work_item_reprioritise(*, actor: User, item_id: int, priority: int, reason: str) -> WorkItem:
    """A supervisor gives open work a new priority (0 to 100, higher first), saying why; audited with ids only."""
    item = _item_in_reach(actor, item_id, detail="priority")
    if isinstance(priority, bool) or not isinstance(priority, int) or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise DomainError(
            _("Give a whole number from %(low)d to %(high)d.") % {"low": PRIORITY_MIN, "high": PRIORITY_MAX}, field="priority"
        )
    clean_reason(reason, required=_("Say why this work's priority changes."))
    with transaction.atomic():
        locked = WorkItem.objects.select_for_update().filter(pk=item.pk).first()
        if locked is None:
            raise DomainError(_("There is no work with this number among the work you supervise."), field="item")
        _refuse_closed(locked)
        before = locked.priority
        locked.priority = priority
        locked.save(update_fields=["priority"])
        # The numbers only: the reason is the supervisor's free text, which the trail does not carry.
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            object_type="work_item",
            object_id=locked.pk,
            jurisdiction_id=locked.jurisdiction_id,
            fields=["priority"],
            detail=f"priority {before} to {priority}",
        )
    return locked


# --- Moving work to a named tracer.


def _load(agent_id: int, channel: str, *, besides_item: int) -> int:
    """What counts against the tracer's capacity on `channel`: work accepted and offers pending (not this item's)."""
    accepted = WorkItem.objects.filter(holder_id=agent_id, status=WorkStatus.ACCEPTED, channel=channel).count()
    offered = (
        Offer.objects.filter(agent_id=agent_id, status=OfferStatus.PENDING, item__channel=channel)
        .exclude(item_id=besides_item)
        .aggregate(n=Count("pk"))["n"]
    )
    return accepted + int(offered or 0)


def _why_not(item: WorkItem, tracer: User, status: AgentStatus | None) -> tuple[str, str] | None:
    """Why `tracer` cannot take `item` (the field at fault and the words), or None when nothing stands in the way."""
    if not policy.covers(tracer.jurisdiction, item.jurisdiction):
        # A holder sees the record only inside their own jurisdiction (accounts.policy): the work would be blind.
        return "agent", _("This tracer's jurisdiction does not cover this work's: they could not open its record.")
    if status is None or status.state not in ROUTABLE_STATES:
        state = status.get_state_display() if status is not None else AgentStateChoice.OFFLINE.label
        return "agent", _("This tracer is not taking work now (%(state)s).") % {"state": state}
    if tracer.pk in item.excluded:
        return "agent", _("This tracer declined this work or let an offer of it run out: choose someone else.")
    if item.status == WorkStatus.OFFERED and item.offers.filter(status=OfferStatus.PENDING, agent_id=tracer.pk).exists():
        return "agent", _("This work is already offered to this tracer.")
    capacity = status.capacity_for(item.channel)
    if _load(tracer.pk, item.channel, besides_item=item.pk) >= capacity:
        return "agent", _("This tracer is at capacity on %(channel)s (%(n)d at a time).") % {
            "channel": str(Channel(item.channel).label).lower() if item.channel in Channel.values else item.channel,
            "n": capacity,
        }
    requirement = language_requirement(item.kind, item.language)
    spoken = {
        code: LEVEL.get(proficiency, 3)
        for code, proficiency in UserLanguage.objects.filter(user=tracer).values_list("language", "proficiency")
    }
    if not requirement.matches({"languages": spoken}, {"language": item.language}):
        name = language_name(item.language, translation.get_language() or "en")
        return "agent", _("This tracer does not speak %(language)s well enough for this work.") % {"language": name}
    return None


def work_item_move(*, actor: User, item_id: int, agent_id: int, now: dt.datetime | None = None) -> Offer:
    """A supervisor gives waiting (or offered) work to a named tracer: any pending offer is withdrawn and the work is
    offered to them through the claim path. Refused, saying why, when they cannot take it."""
    item = _item_in_reach(actor, item_id, detail="move")
    _refuse_closed(item)
    if item.status == WorkStatus.ACCEPTED:
        raise DomainError(_("This work is in progress with a tracer: it cannot be moved."), field="item")
    tracer = _tracer_in_reach(actor, agent_id, detail="move")
    now = now or clock.now()
    if item.not_before is not None and item.not_before > now:
        raise DomainError(
            _("This work is held back until %(at)s (a retry or a callback the person asked for): it cannot be offered before.")
            % {"at": timezone.localtime(item.not_before).strftime("%Y-%m-%d %H:%M")},
            field="item",
        )
    if not callable_now(item, now):
        raise DomainError(_("It is outside the person's calling hours: this work cannot be offered now."), field="item")
    problem = _why_not(item, tracer, AgentStatus.objects.filter(user=tracer).first())
    if problem is not None:
        field, message = problem
        raise DomainError(message, field=field)
    state = Jurisdiction.objects.get(pk=item.jurisdiction.ancestors_and_self()[0])
    spec = specs_for(state).get(item.kind)
    seconds = spec.offer_seconds if spec is not None else RESERVATION_SECONDS  # the state's own offer time for the kind
    with transaction.atomic():
        locked = (
            WorkItem.objects.select_for_update().filter(pk=item.pk, status__in=(WorkStatus.QUEUED, WorkStatus.OFFERED)).first()
        )
        if locked is None:
            raise DomainError(_("This work was taken or closed meanwhile."), field="item")
        for offer in Offer.objects.select_for_update().filter(item=locked, status=OfferStatus.PENDING):
            offer.status, offer.answered_at, offer.reason = OfferStatus.WITHDRAWN, now, MOVED
            offer.save(update_fields=["status", "answered_at", "reason"])
            events.publish(OfferAnswered(offer_id=offer.pk, item_id=locked.pk, agent_id=offer.agent_id, status=offer.status))
            pushes.offer_changed(agent_id=offer.agent_id, offer_id=offer.pk, item_id=locked.pk, status=offer.status)
            audit_record(
                actor=actor,
                action=Action.ASSIGN,
                object_type="work_item",
                object_id=locked.pk,
                jurisdiction_id=locked.jurisdiction_id,
                detail=f"offer to user {offer.agent_id} withdrawn",
            )
        if locked.status != WorkStatus.QUEUED:
            locked.status = WorkStatus.QUEUED
            locked.save(update_fields=["status"])
        # Step 0: a supervisor's choice stands in for the workflow, whose steps only order whom routing tries.
        made = claim(item_id=locked.pk, agent_id=tracer.pk, step=0, now=now, offer_seconds=seconds)
        if made is None:
            # The tracer's state or load changed since the checks above: leaving the block undoes the withdrawal.
            raise DomainError(
                _("This tracer could not be offered the work just now (their state or load changed): try again."),
                field="agent",
            )
        audit_record(
            actor=actor,
            action=Action.ASSIGN,
            object_type="work_item",
            object_id=locked.pk,
            jurisdiction_id=locked.jurisdiction_id,
            detail=f"moved to user {tracer.pk}",
        )
    return made
