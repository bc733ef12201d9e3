"""Periodic jobs, declared in code, run once per period however many workers run.

An app declares a job in its AppConfig.ready (or its tasks module) with `periodic`. Each job
has a row (PeriodicJob) holding its next run; every worker looks at the rows, and a due job is
claimed with a compare-and-set on that time (healthchecks' habit: the UPDATE that changes the
row wins, "if num_updated != 1, another process got there first"). The winner runs it and
writes down when it finished, how long it took and its last error, which administrators see.

A job that is missed (no worker ran for an hour) runs once when a worker comes back, not once
per missed period. A worker killed mid-job leaves it to the next period: jobs are idempotent.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import F

from tracecenter.core import clock
from tracecenter.core.models import PeriodicJob
from tracecenter.core.relay import describe

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Job:
    name: str
    every: dt.timedelta
    func: Callable[[], object]
    description: str = ""


_JOBS: dict[str, Job] = {}


def periodic(name: str, *, every: dt.timedelta, description: str = "") -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Declare `func` as a job run every `every` by one of the workers."""

    def register(func: Callable[[], object]) -> Callable[[], object]:
        if every <= dt.timedelta(0):
            raise ValueError("a periodic job needs a positive period")
        _JOBS[name] = Job(name=name, every=every, func=func, description=description)
        return func

    return register


def jobs() -> dict[str, Job]:
    return dict(_JOBS)


def _ensure_rows(now: dt.datetime) -> None:
    known = set(PeriodicJob.objects.filter(name__in=list(_JOBS)).values_list("name", flat=True))
    for name in _JOBS.keys() - known:
        try:
            with transaction.atomic():
                PeriodicJob.objects.create(name=name, next_run_at=now)
        except IntegrityError:  # another worker created it first
            pass


class Scheduler:
    """A worker's view of the jobs: asks the database only when a job may be due."""

    def __init__(self) -> None:
        self._next_look: dt.datetime | None = None

    def run_due(self, now: dt.datetime | None = None) -> int:
        now = now or clock.now()
        if not _JOBS or (self._next_look is not None and now < self._next_look):
            return 0
        _ensure_rows(now)
        ran = 0
        for row in PeriodicJob.objects.filter(name__in=list(_JOBS), next_run_at__lte=now):
            if run_job(row, now):
                ran += 1
        upcoming = PeriodicJob.objects.filter(name__in=list(_JOBS)).order_by("next_run_at").values_list("next_run_at", flat=True)
        soonest = upcoming.first()
        # Look again when the soonest job is due, and at least every few seconds (another process may run them).
        self._next_look = min(soonest or now, clock.now() + dt.timedelta(seconds=5))
        return ran


def run_job(row: PeriodicJob, now: dt.datetime) -> bool:
    """Claim this period of `row` and run it; False when another worker claimed it first."""
    job = _JOBS[row.name]
    following = row.next_run_at + job.every
    if following <= now:
        following = now + job.every  # missed periods are not caught up one by one
    won = PeriodicJob.objects.filter(name=row.name, next_run_at=row.next_run_at).update(
        next_run_at=following, last_started_at=now
    )
    if won != 1:
        return False
    started = time.perf_counter()
    try:
        job.func()
    except Exception as exc:
        logger.exception("periodic job %s failed", job.name)
        PeriodicJob.objects.filter(name=row.name).update(
            last_error=describe(exc),
            last_error_at=clock.now(),
            failures=F("failures") + 1,
            runs=F("runs") + 1,
            last_finished_at=clock.now(),
            last_duration_ms=int((time.perf_counter() - started) * 1000),
        )
        return True
    PeriodicJob.objects.filter(name=row.name).update(
        runs=F("runs") + 1, last_finished_at=clock.now(), last_duration_ms=int((time.perf_counter() - started) * 1000)
    )
    return True


def run_now(name: str) -> bool:
    """Run one job at once, whatever its schedule (tests, and the administrators' button)."""
    now = clock.now()
    _ensure_rows(now)
    row = PeriodicJob.objects.get(name=name)
    return run_job(row, now)
