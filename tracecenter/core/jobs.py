"""The platform's own periodic jobs."""

from __future__ import annotations

import datetime as dt

from tracecenter.core import clock, push, ratelimit, tasks
from tracecenter.core.env import env_int
from tracecenter.core.models import EventDelivery, OutboxEvent, WorkerProcess
from tracecenter.core.schedule import periodic

# Delivered events are kept this long (for administrators to look into), then removed.
EVENT_RETENTION = dt.timedelta(days=env_int("EVENT_RETENTION_DAYS", 30))


@periodic(
    "tasks.recover",
    every=dt.timedelta(seconds=env_int("TASK_RECOVER_SECONDS", 15)),
    description="Tasks of workers that stopped are run again",
)
def recover_tasks() -> None:
    tasks.recover_stale()


@periodic("events.prune", every=dt.timedelta(hours=1), description="Events delivered to every subscriber long ago are removed")
def prune_events(batch: int = 5000) -> int:
    cutoff = clock.now() - EVENT_RETENTION
    unfinished = EventDelivery.objects.exclude(state=EventDelivery.State.DONE).values("event_id")
    old = OutboxEvent.objects.filter(created_at__lt=cutoff).exclude(pk__in=unfinished)
    removed = 0
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        removed += OutboxEvent.objects.filter(pk__in=ids).delete()[1].get(OutboxEvent._meta.label, 0)
    return removed


@periodic("push.prune", every=dt.timedelta(hours=1), description="Pushes older than a day are removed (browsers reload by then)")
def prune_pushes() -> int:
    return push.prune()


@periodic(
    "workers.prune", every=dt.timedelta(hours=6), description="Tasks that succeeded and workers gone for a week are removed"
)
def prune_finished(age: dt.timedelta = dt.timedelta(days=7)) -> int:
    from django_tasks_db.models import DBTaskResult

    cutoff = clock.now() - age
    tasks_removed = DBTaskResult.objects.filter(status="SUCCESSFUL", finished_at__lt=cutoff).delete()[0]
    return tasks_removed + WorkerProcess.objects.filter(heartbeat_at__lt=cutoff).delete()[0]


@periodic("ratelimit.prune", every=dt.timedelta(hours=1), description="Attempt counters whose window is over are removed")
def prune_rate_counters() -> int:
    return ratelimit.prune()
