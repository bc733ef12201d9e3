"""Background tasks: Django's Tasks API on the database backend, with what that backend leaves out.

Each app declares its tasks in its tasks.py with `task` (Django's decorator plus a retry policy)
and enqueues them with `enqueue` inside the transaction of the change that needs them: on the
database backend the task row commits with the change or not at all, so nothing is lost between
the commit and the enqueue, and the worker is woken after the commit.

django-tasks-db stores and runs tasks but has no retries, no lease and no periodic jobs, and a
worker that dies leaves its task RUNNING for ever. This module and the worker add them:

- a task that raises is made READY again with a growing `run_after` until its retries are
  spent, then FAILED (each attempt is one entry of `worker_ids`);
- a RUNNING task whose worker stopped sending heartbeats is made READY again (or FAILED when
  its retries are spent) by the periodic job `tasks.recover`: SIGKILL loses nothing;
- periodic jobs are in core/schedule.py.

Who started a task (address, channel, user) is stored beside its arguments under `_origin`
and taken on by the worker while it runs, so the audit trail names them.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.tasks import Task, TaskResultStatus
from django.tasks import task as django_task
from django_tasks_db.models import DBTaskResult

from tracecenter.core import clock, request_context, wakeup
from tracecenter.core.env import env_int
from tracecenter.core.relay import backoff, describe

logger = logging.getLogger(__name__)

ORIGIN = "_origin"
DEFAULT_RETRIES = 4
# A worker silent this long is taken for dead, and its running task is given to another.
HEARTBEAT_TIMEOUT = dt.timedelta(seconds=env_int("WORKER_HEARTBEAT_TIMEOUT_SECONDS", 30))

_RETRIES: dict[str, int] = {}
_GIVE_UP: dict[str, Callable[..., Any]] = {}


def task[F: Callable[..., Any]](
    function: F | None = None,
    *,
    retries: int = DEFAULT_RETRIES,
    give_up: Callable[..., Any] | None = None,
    priority: int = 0,
    queue_name: str = "default",
) -> Any:
    """Django's @task, remembering how many times it may be retried after a failure.

    `give_up`, called with the task's arguments once the last attempt failed, lets the task's
    owner say so where people look (a batch marked failed rather than "running" for ever).
    """

    def wrap(func: F) -> Task:
        declared = django_task(func, priority=priority, queue_name=queue_name)
        _RETRIES[declared.module_path] = retries
        if give_up is not None:
            _GIVE_UP[declared.module_path] = give_up
        return declared

    return wrap(function) if function is not None else wrap


def enqueue(declared: Task, *args: Any, **kwargs: Any) -> Any:
    """Queue `declared` in the current transaction, with who started it; wake the workers after the commit."""
    result = declared.enqueue(*args, **kwargs, **{ORIGIN: request_context.origin()})
    wakeup.signal_after_commit()
    return result


def retries_of(module_path: str) -> int:
    return _RETRIES.get(module_path, DEFAULT_RETRIES)


def run_next(worker_id: str) -> bool:
    """Claim the most urgent ready task and run it; False when there was none."""
    with transaction.atomic():
        row = DBTaskResult.objects.ready().select_for_update(skip_locked=True).first()
        if row is None:
            return False
        row.claim(worker_id)
    run(row)
    return True


def run(row: DBTaskResult) -> None:
    try:
        declared = row.task
        args = list(row.args_kwargs.get("args", []))
        kwargs = dict(row.args_kwargs.get("kwargs", {}))
        origin = kwargs.pop(ORIGIN, None)
        with request_context.acting_for(origin):
            value = declared.call(*args, **kwargs)
    except Exception as exc:
        _failed(row, exc)
        return
    row.set_successful(value)


def _failed(row: DBTaskResult, exc: BaseException) -> None:
    attempts = len(row.worker_ids)
    logger.error("task %s (%s) failed, attempt %d: %s", row.id, row.task_path, attempts, describe(exc))
    row.exception_class_path = f"{type(exc).__module__}.{type(exc).__qualname__}"
    # The frames, not the message: an exception's message may quote personal data.
    row.traceback = "".join(traceback.format_tb(exc.__traceback__))[-20_000:]
    row.return_value = None
    if attempts <= retries_of(row.task_path):
        row.status = TaskResultStatus.READY
        row.run_after = clock.now() + backoff(attempts)
        row.save(update_fields=["status", "run_after", "exception_class_path", "traceback", "return_value"])
        return
    row.status = TaskResultStatus.FAILED
    row.finished_at = clock.now()
    row.save(update_fields=["status", "finished_at", "exception_class_path", "traceback", "return_value"])
    _give_up(row)


def _give_up(row: DBTaskResult) -> None:
    handler = _GIVE_UP.get(row.task_path)
    if handler is None:
        return
    kwargs = dict(row.args_kwargs.get("kwargs", {}))
    kwargs.pop(ORIGIN, None)
    try:
        handler(*row.args_kwargs.get("args", []), **kwargs)
    except Exception as exc:
        logger.error("giving up task %s (%s) failed too: %s", row.id, row.task_path, describe(exc))


def recover_stale(now: dt.datetime | None = None) -> int:
    """Tasks left RUNNING by a worker that stopped sending heartbeats: ready again (or failed). Returns how many."""
    from tracecenter.core.models import WorkerProcess

    now = now or clock.now()
    alive = set(
        WorkerProcess.objects.filter(heartbeat_at__gte=now - HEARTBEAT_TIMEOUT, stopped_at__isnull=True).values_list(
            "id", flat=True
        )
    )
    recovered = 0
    for row in DBTaskResult.objects.running().filter(started_at__lt=now - HEARTBEAT_TIMEOUT):
        if row.worker_ids and row.worker_ids[-1] in alive:
            continue
        retry = len(row.worker_ids) <= retries_of(row.task_path)
        changes: dict[str, Any] = (
            {"status": TaskResultStatus.READY, "run_after": now}
            if retry
            else {"status": TaskResultStatus.FAILED, "finished_at": now}
        )
        # Only if nobody changed it meanwhile (two workers recovering at once, or the task finishing).
        changed = DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at).update(
            exception_class_path="tracecenter.core.tasks.WorkerLost", traceback="", **changes
        )
        recovered += changed
        if changed and not retry:
            _give_up(row)
    if recovered:
        logger.warning("%d task(s) of stopped workers made ready again", recovered)
        wakeup.signal()
    return recovered


def tasks_retry(ids: list[str]) -> int:
    """Run failed tasks again (an administrator's button): ready now; the earlier attempts stay counted."""
    changed = DBTaskResult.objects.filter(pk__in=ids, status=TaskResultStatus.FAILED).update(
        status=TaskResultStatus.READY, run_after=clock.now(), finished_at=None
    )
    if changed:
        wakeup.signal_after_commit()
    return changed


def drain(worker_id: str = "inline", *, limit: int = 10_000) -> int:
    """Run every task ready now in this process (commands and tests); returns how many ran."""
    ran = 0
    while ran < limit and run_next(worker_id):
        ran += 1
    return ran
