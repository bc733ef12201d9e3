"""What routing announces: the live workspace pushes offers from these; later issues listen too. Ids only."""

from __future__ import annotations

import dataclasses
import datetime as dt

from tracecenter.core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class WorkItemCreated(DomainEvent):
    item_id: int
    kind: str
    jurisdiction_id: int


@dataclasses.dataclass(frozen=True)
class OfferMade(DomainEvent):
    offer_id: int
    item_id: int
    agent_id: int
    expires_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class OfferAnswered(DomainEvent):
    offer_id: int
    item_id: int
    agent_id: int
    status: str  # accepted, rejected, timed_out, withdrawn


@dataclasses.dataclass(frozen=True)
class WorkItemRequeued(DomainEvent):
    """Work waiting again after an attempt: a retry or a callback, offered from `not_before` on."""

    item_id: int
    jurisdiction_id: int
    not_before: dt.datetime


@dataclasses.dataclass(frozen=True)
class AgentStateChanged(DomainEvent):
    """A tracer's routing state changed (by them, a supervisor, or routing itself): one who is now
    available is routed to at once; boards show it."""

    agent_id: int
    jurisdiction_id: int | None
    state: str


@dataclasses.dataclass(frozen=True)
class SurgeSwitched(DomainEvent):
    """A state's surge mode turned on or off (routing/surge.py); its waiting work was re-prioritised."""

    jurisdiction_id: int
    active: bool
    by_user_id: int
    reprioritised: int
