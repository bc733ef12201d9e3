"""What cases does when other apps announce something."""

from __future__ import annotations

from tracecenter.core import events


def on_lab_result_received(event: events.LabResultReceived) -> None:
    from tracecenter.cases.services import case_open_for_positive

    if event.classification == "positive":
        case_open_for_positive(lab_result_id=event.lab_result_id)


def register() -> None:
    events.subscribe(events.LabResultReceived, on_lab_result_received)
