"""What cases does when other apps announce something."""

from __future__ import annotations

from collections.abc import Sequence

from tracecenter.cases.events import CaseReported
from tracecenter.core import events
from tracecenter.intake.events import LabResultCorrected, LabResultReceived
from tracecenter.people.events import PersonsMerged


def on_lab_result_received(event: LabResultReceived) -> None:
    from tracecenter.cases.services import case_open_for_positive

    case_open_for_positive(lab_result_id=event.lab_result_id)


def on_lab_results_received(batch: Sequence[LabResultReceived]) -> None:
    """Many at once (a surge, a feed's chunk): the relay falls back to one by one if this fails."""
    from tracecenter.cases.services import cases_open_for_positives

    cases_open_for_positives(lab_result_ids=[event.lab_result_id for event in batch])


def on_lab_result_corrected(event: LabResultCorrected) -> None:
    from tracecenter.cases.services import case_lab_result_corrected

    case_lab_result_corrected(lab_result_id=event.lab_result_id, previous=event.previous, classification=event.classification)


def on_persons_merged(event: PersonsMerged) -> None:
    from tracecenter.cases.services import case_flag_duplicates_after_merge

    case_flag_duplicates_after_merge(person_id=event.survivor_id, merge_id=event.merge_id)


def on_case_reported(event: CaseReported) -> None:
    from tracecenter.cases.reporting import case_report_identity_check

    case_report_identity_check(case_id=event.case_id)


def _entered(event: CaseReported) -> bool:
    return event.person_entered


def _is_positive(event: LabResultReceived) -> bool:
    return event.classification == "positive"


def register() -> None:
    events.subscribe(LabResultReceived, on_lab_result_received, when=_is_positive, batch=on_lab_results_received)
    events.subscribe(LabResultCorrected, on_lab_result_corrected)
    events.subscribe(PersonsMerged, on_persons_merged)
    # A person typed in with a reported case is checked against the registry as an entered contact is.
    events.subscribe(CaseReported, on_case_reported, when=_entered)
