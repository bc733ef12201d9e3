"""The peer of bench/events.py: case opening as one stock django-tasks-db task per result."""

from __future__ import annotations

from django.tasks import task


@task()
def open_case(lab_result_id: int) -> None:
    from tracecenter.cases.services import case_open_for_positive

    case_open_for_positive(lab_result_id=lab_result_id)
