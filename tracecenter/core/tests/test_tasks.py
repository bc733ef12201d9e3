"""Background tasks: enqueued with the change, retried with growing pauses, recovered from dead workers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from tracecenter.audit.models import AuditEntry
from tracecenter.audit.services import audit_record
from tracecenter.core import clock, request_context, tasks
from tracecenter.core.models import WorkerProcess

pytestmark = pytest.mark.django_db

SOMEONE = "Ana " + "García"  # built so that the source line itself does not hold the name
ran: list[Any] = []
given_up: list[Any] = []


@tasks.task(retries=2, give_up=lambda n: given_up.append(n))
def flaky(n: int) -> int:
    ran.append(n)
    if n < 0:
        raise ValueError(f"negative number for {SOMEONE}: {n}")
    audit_record(actor=None, action="read", object_type="thing", object_id=n)
    return n * 2


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()
    given_up.clear()


def test_a_task_enqueued_in_a_transaction_that_rolls_back_never_runs() -> None:
    try:
        with transaction.atomic():
            tasks.enqueue(flaky, 1)
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert not DBTaskResult.objects.exists()
    assert tasks.drain() == 0 and ran == []


def test_a_task_runs_in_the_worker_for_whoever_enqueued_it() -> None:
    token = request_context.set_current(request_context.RequestContext(ip_address="198.51.100.4", channel="web", actor_id=7))
    try:
        result = tasks.enqueue(flaky, 21)
    finally:
        request_context.reset(token)
    assert ran == []  # enqueued, not run
    assert tasks.drain("w1") == 1
    row = DBTaskResult.objects.get(pk=result.id)
    assert (row.status, row.return_value, row.worker_ids) == ("SUCCESSFUL", 42, ["w1"])
    entry = AuditEntry.objects.get(object_type="thing")
    assert (entry.ip_address, entry.channel) == ("198.51.100.4", "worker")


def test_a_failing_task_is_retried_after_growing_pauses_then_failed_and_its_owner_told() -> None:
    tasks.enqueue(flaky, -5)
    pauses = []
    for _attempt in range(3):
        DBTaskResult.objects.filter(status="READY").update(run_after=clock.now())
        before = clock.now()
        assert tasks.drain() == 1
        row = DBTaskResult.objects.get()
        if row.status == "READY":
            pauses.append((row.run_after - before).total_seconds())
    assert row.status == "FAILED" and len(row.worker_ids) == 3 and row.exception_class_path == "builtins.ValueError"
    assert "García" not in row.traceback  # the frames are kept, never the message
    assert pauses[1] > pauses[0] > 0
    assert ran == [-5, -5, -5] and given_up == [-5]
    assert tasks.drain() == 0  # failed for good: not run again


def test_a_task_left_running_by_a_dead_worker_is_made_ready_again() -> None:
    now = clock.now()
    WorkerProcess.objects.create(id="dead", started_at=now, heartbeat_at=now - dt.timedelta(minutes=5))
    WorkerProcess.objects.create(id="alive", started_at=now, heartbeat_at=now)
    orphan, busy = tasks.enqueue(flaky, 1), tasks.enqueue(flaky, 2)
    for result, worker in ((orphan, "dead"), (busy, "alive")):
        row = DBTaskResult.objects.get(pk=result.id)
        row.claim(worker)
        DBTaskResult.objects.filter(pk=row.pk).update(started_at=now - dt.timedelta(minutes=5))
    assert tasks.recover_stale() == 1
    assert DBTaskResult.objects.get(pk=orphan.id).status == "READY"
    assert DBTaskResult.objects.get(pk=busy.id).status == "RUNNING"  # its worker still beats: left alone
    assert tasks.drain("w2") == 1 and ran == [1]
    assert DBTaskResult.objects.get(pk=orphan.id).worker_ids == ["dead", "w2"]


def test_a_task_whose_worker_died_on_its_last_attempt_is_failed_and_its_owner_told() -> None:
    now = clock.now()
    WorkerProcess.objects.create(id="dead", started_at=now, heartbeat_at=now - dt.timedelta(minutes=5))
    result = tasks.enqueue(flaky, 3)
    DBTaskResult.objects.filter(pk=result.id).update(
        status="RUNNING", worker_ids=["a", "b", "dead"], started_at=now - dt.timedelta(minutes=5)
    )
    assert tasks.recover_stale() == 1
    assert DBTaskResult.objects.get(pk=result.id).status == "FAILED"
    assert given_up == [3]
