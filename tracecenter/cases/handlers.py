"""What cases does when other apps announce something."""

from __future__ import annotations

from tracecenter.core import events


def on_lab_result_received(event: events.LabResultReceived) -> None:
    from tracecenter.cases.services import case_open_for_positive

    case_open_for_positive(lab_result_id=event.lab_result_id)


def on_lab_result_corrected(event: events.LabResultCorrected) -> None:
    from tracecenter.cases.services import case_lab_result_corrected

    case_lab_result_corrected(lab_result_id=event.lab_result_id, previous=event.previous, classification=event.classification)


def _is_positive(event: events.LabResultReceived) -> bool:
    return event.classification == "positive"


def register() -> None:
    events.subscribe(events.LabResultReceived, on_lab_result_received, when=_is_positive)
    events.subscribe(events.LabResultCorrected, on_lab_result_corrected)
