"""Reads of the platform's own state, for the administrators' system page: no personal data in any of it."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.db.models import Count, Q, QuerySet
from django_tasks_db.models import DBTaskResult

from tracecenter.core import clock, schedule
from tracecenter.core.models import EventDelivery, PeriodicJob, WorkerProcess
from tracecenter.core.tasks import HEARTBEAT_TIMEOUT


@dataclasses.dataclass(frozen=True)
class WorkerRow:
    worker: WorkerProcess
    state: str  # "working", "silent" (no heartbeat lately: taken for dead), "stopped"


def workers(*, since: dt.timedelta = dt.timedelta(days=1)) -> list[WorkerRow]:
    now = clock.now()
    rows = WorkerProcess.objects.filter(heartbeat_at__gte=now - since).order_by("-heartbeat_at")[:200]
    return [
        WorkerRow(w, "stopped" if w.stopped_at else ("working" if w.heartbeat_at >= now - HEARTBEAT_TIMEOUT else "silent"))
        for w in rows
    ]


@dataclasses.dataclass(frozen=True)
class JobRow:
    job: schedule.Job
    row: PeriodicJob | None


def periodic_jobs() -> list[JobRow]:
    rows = {row.name: row for row in PeriodicJob.objects.all()}
    return [JobRow(job, rows.get(name)) for name, job in sorted(schedule.jobs().items())]


def delivery_counts() -> dict[str, int]:
    now = clock.now()
    counts = EventDelivery.objects.aggregate(
        due=Count("pk", filter=Q(state=EventDelivery.State.PENDING, next_attempt_at__lte=now, attempts=0)),
        retrying=Count("pk", filter=Q(state=EventDelivery.State.PENDING, attempts__gt=0)),
        dead=Count("pk", filter=Q(state=EventDelivery.State.DEAD)),
    )
    return {key: int(value or 0) for key, value in counts.items()}


def dead_deliveries() -> QuerySet[EventDelivery]:
    return EventDelivery.objects.filter(state=EventDelivery.State.DEAD).select_related("event").order_by("-finished_at", "-pk")


def task_counts() -> dict[str, Any]:
    return dict(DBTaskResult.objects.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


def failed_tasks() -> QuerySet[DBTaskResult]:
    return DBTaskResult.objects.filter(status="FAILED").order_by("-finished_at")
