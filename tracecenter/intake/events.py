"""What intake announces."""

from __future__ import annotations

import dataclasses

from tracecenter.core.events import DomainEvent


@dataclasses.dataclass(frozen=True)
class LabResultReceived(DomainEvent):
    lab_result_id: int
    person_id: int
    jurisdiction_id: int
    classification: str


@dataclasses.dataclass(frozen=True)
class LabResultCorrected(DomainEvent):
    """A lab corrected (OBX-11 'C') or retracted (entered in error) a result already received."""

    lab_result_id: int
    person_id: int
    jurisdiction_id: int
    previous: str  # the classification before
    classification: str  # after; "retracted" when the result was entered in error
