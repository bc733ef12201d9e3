"""The supervisor's board kept live: routing's events become a "work.board" push to those who watch the work.

Work created, offered, answered (accepted, declined, timed out, withdrawn) or back after an attempt, and a
tracer's state changed (by them, by a supervisor, by a wrap-up that freed them; the state an accepted or a
missed offer sets is heard through that offer's answer).

The groups are the access policy's for a record of the work's jurisdiction and team (`policy.record_groups`), so
a board hears only of work it shows; tracers, whose browsers join only their own group, hear nothing of it. A
push says which item or tracer changed (ids only) and the page fetches its regions again through the board's own
view. A burst (a surge's new work, a routing pass's offers) needs one push per group, not one per item: the page
fetches each region once for the burst anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tracecenter.accounts import policy
from tracecenter.accounts.models import Jurisdiction, User
from tracecenter.core import events, push
from tracecenter.routing.events import AgentStateChanged, OfferAnswered, OfferMade, WorkItemCreated, WorkItemRequeued
from tracecenter.routing.models import WorkItem

KIND = "work.board"

WorkEvent = WorkItemCreated | OfferMade | OfferAnswered | WorkItemRequeued


def _push_once_per_group(targets: Iterable[tuple[list[str], dict[str, Any]]]) -> None:
    """One push per group: the first change heard for it stands for the burst."""
    seen: set[str] = set()
    pushes = []
    for groups, data in targets:
        fresh = [group for group in groups if group not in seen]
        if fresh:
            seen.update(fresh)
            pushes.append((fresh, KIND, data))
    push.push_many(pushes)


def on_work_changed(event: WorkEvent) -> None:
    on_work_changed_batch([event])


def on_work_changed_batch(batch: Sequence[WorkEvent]) -> None:
    """New work, an offer made or answered, work back after an attempt: the boards over its jurisdiction and team."""
    ids = {event.item_id for event in batch}
    # Per jurisdiction and team, one item: the groups depend on nothing else (one grouped read, however many items).
    places = (
        WorkItem.objects.filter(pk__in=ids)
        .order_by("jurisdiction_id", "team_id", "pk")
        .values_list("jurisdiction_id", "team_id", "pk")
    )
    first: dict[tuple[int, int | None], int] = {}
    for jurisdiction_id, team_id, pk in places:
        first.setdefault((jurisdiction_id, team_id), pk)
    jurisdictions = Jurisdiction.objects.in_bulk({jurisdiction_id for jurisdiction_id, _team in first})
    _push_once_per_group(
        (policy.record_groups(jurisdiction=jurisdictions[jurisdiction_id], team_id=team_id), {"item_id": pk})
        for (jurisdiction_id, team_id), pk in first.items()
        if jurisdiction_id in jurisdictions
    )


def on_agent_state_changed(event: AgentStateChanged) -> None:
    on_agent_states_changed([event])


def on_agent_states_changed(batch: Sequence[AgentStateChanged]) -> None:
    """A tracer's state: the boards over the tracer's jurisdiction and team (as they are now, not as the event says)."""
    agents = User.objects.select_related("jurisdiction").filter(pk__in={event.agent_id for event in batch}).order_by("pk")
    _push_once_per_group(
        (policy.record_groups(jurisdiction=agent.jurisdiction, team_id=agent.team_id), {"agent_id": agent.pk})
        for agent in agents
        if agent.jurisdiction is not None
    )


def register() -> None:
    events.subscribe(
        WorkItemCreated, on_work_changed, batch=on_work_changed_batch, name="tracecenter.workspace.live_board.on_work_created"
    )
    events.subscribe(
        OfferMade, on_work_changed, batch=on_work_changed_batch, name="tracecenter.workspace.live_board.on_offer_made"
    )
    events.subscribe(
        OfferAnswered, on_work_changed, batch=on_work_changed_batch, name="tracecenter.workspace.live_board.on_offer_answered"
    )
    events.subscribe(
        WorkItemRequeued, on_work_changed, batch=on_work_changed_batch, name="tracecenter.workspace.live_board.on_work_requeued"
    )
    events.subscribe(
        AgentStateChanged,
        on_agent_state_changed,
        batch=on_agent_states_changed,
        name="tracecenter.workspace.live_board.on_agent_state_changed",
    )
