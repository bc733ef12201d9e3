"""What contacts announce."""

from __future__ import annotations

import dataclasses

from tracecenter.core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class InterviewCompleted(DomainEvent):
    case_id: int
    contacts_elicited: int


@dataclasses.dataclass(frozen=True)
class ContactElicited(DomainEvent):
    exposure_id: int
    case_id: int | None
    person_id: int
    # The person was entered with the contact (a new record), not chosen among records the user sees.
    person_entered: bool = False


@dataclasses.dataclass(frozen=True)
class ContactBecameCase(DomainEvent):
    exposure_id: int
    case_id: int


@dataclasses.dataclass(frozen=True)
class ExposureAssigned(DomainEvent):
    """The contact's owner changed; None: nobody owns it now."""

    exposure_id: int
    jurisdiction_id: int
    owner_id: int | None
    previous_owner_id: int | None


@dataclasses.dataclass(frozen=True)
class ExposureStatusChanged(DomainEvent):
    exposure_id: int
    jurisdiction_id: int
    from_status: str
    to_status: str
