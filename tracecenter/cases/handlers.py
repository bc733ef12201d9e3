"""What cases does when other apps announce something."""

from __future__ import annotations

from tracecenter.core import events


def on_lab_result_received(event: events.LabResultReceived) -> None:
    from tracecenter.cases.services import case_open_for_positive

    case_open_for_positive(lab_result_id=event.lab_result_id)


def on_lab_result_corrected(event: events.LabResultCorrected) -> None:
    from tracecenter.cases.services import case_lab_result_corrected

    case_lab_result_corrected(lab_result_id=event.lab_result_id, previous=event.previous, classification=event.classification)


def on_persons_merged(event: events.PersonsMerged) -> None:
    from tracecenter.cases.services import case_flag_duplicates_after_merge

    case_flag_duplicates_after_merge(person_id=event.survivor_id, merge_id=event.merge_id)


def _is_positive(event: events.LabResultReceived) -> bool:
    return event.classification == "positive"


def register() -> None:
    events.subscribe(events.LabResultReceived, on_lab_result_received, when=_is_positive)
    events.subscribe(events.LabResultCorrected, on_lab_result_corrected)
    events.subscribe(events.PersonsMerged, on_persons_merged)
