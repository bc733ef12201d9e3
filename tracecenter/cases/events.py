"""What cases announce. Routing, monitoring and the live screens listen."""

from __future__ import annotations

import dataclasses

from tracecenter.core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class CaseOpened(DomainEvent):
    case_id: int
    person_id: int
    jurisdiction_id: int


@dataclasses.dataclass(frozen=True)
class CaseReported(DomainEvent):
    """A case was reported by telephone or a provider (not a feed); `person_entered`: its person was typed in."""

    case_id: int
    person_id: int
    person_entered: bool


@dataclasses.dataclass(frozen=True)
class CaseStatusChanged(DomainEvent):
    case_id: int
    from_status: str
    to_status: str
    jurisdiction_id: int | None = None


@dataclasses.dataclass(frozen=True)
class CaseAssigned(DomainEvent):
    """The case's owner (the tracer responsible for it) changed; None: nobody owns it now."""

    case_id: int
    jurisdiction_id: int
    team_id: int | None
    owner_id: int | None
    previous_owner_id: int | None
    previous_team_id: int | None = None


@dataclasses.dataclass(frozen=True)
class CaseTransferred(DomainEvent):
    case_id: int
    from_jurisdiction_id: int
    to_jurisdiction_id: int
    previous_owner_id: int | None


@dataclasses.dataclass(frozen=True)
class CasePriorityChanged(DomainEvent):
    """1 is the most urgent; see cases.engine.priority."""

    case_id: int
    jurisdiction_id: int
    from_priority: int
    to_priority: int
